"""The fast YAML path for pnpm and yarn berry lockfiles (project/readers/lockfile_yaml.py).

It must read every real lockfile (or it saves nothing) into exactly what PyYAML's loader gives, and
decline (None: PyYAML reads the text instead) anything it would read differently: checked on every
pnpm and berry lockfile under tests/fixtures, on the projects the readers build from them, and on
thousands of mutations of real lockfiles (random edits with YAML's significant characters).
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from npmaudit.project.loader import load_project
from npmaudit.project.readers.lockfile_yaml import base_loader, load_documents

FIXTURES = Path(__file__).parent / "fixtures" / "lockfiles"
PNPM_LOCKFILES = [*sorted(FIXTURES.glob("pnpm-v*/**/*pnpm-lock.yaml")), FIXTURES / "pnpm-v9" / "multi-document.yaml"]
BERRY_LOCKFILES = sorted(FIXTURES.glob("yarn-berry/*/yarn.lock*"))
_Loader = base_loader()
FORCE_PYYAML = "\n# a tab (\t) in a comment: PyYAML reads it, the fast path declines the text\n"


def _text(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8")


def _pyyaml(text: str, loader: Any = _Loader) -> list[Any]:
    return [document for document in yaml.load_all(text, Loader=loader) if document not in (None, "")]


@pytest.mark.parametrize("path", PNPM_LOCKFILES + BERRY_LOCKFILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_fixture_lockfile_is_read_by_the_fast_path_as_pyyaml_reads_it(path: Path) -> None:
    text = _text(path)
    fast = load_documents(text, single="yarn.lock" in path.name)
    assert fast is not None, "a real lockfile left the fast path: it would save nothing"
    assert fast == _pyyaml(text)
    assert load_documents(text + FORCE_PYYAML) is None


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "lockfiles"
SHARED_LOCKFILES = sorted(SHARED.glob("pnpm-v*/*pnpm-lock.yaml")) + sorted(SHARED.glob("yarn-berry/*yarn.lock"))


@pytest.mark.skipif(not SHARED_LOCKFILES, reason="the shared lockfile corpus is not beside the repository")
def test_every_lockfile_of_the_shared_corpus_is_read_by_the_fast_path_as_pyyaml_reads_it() -> None:
    for path in SHARED_LOCKFILES:
        text = _text(path)
        fast = load_documents(text, single=path.name.endswith("yarn.lock"))
        assert fast is not None, path
        assert fast == _pyyaml(text), path


def _project_copy(lockfile: Path, target: Path) -> Path:
    """A project folder holding ``lockfile`` under the name its package manager writes, with its
    package.json (beside it, or named after it) when there is one."""
    target.mkdir(parents=True)
    if "yarn-berry" in lockfile.parts:
        (target / "yarn.lock").write_text(_text(lockfile), encoding="utf-8")
        manifest = lockfile.parent / "package.json"
    else:
        shutil.copy(lockfile, target / "pnpm-lock.yaml")
        stem = lockfile.name.removesuffix("pnpm-lock.yaml")
        manifest = lockfile.parent / (f"{stem}package.json" if stem else "package.json")
    if manifest.is_file():
        shutil.copy(manifest, target / "package.json")
    return target


@pytest.mark.parametrize(
    "lockfile",
    [p for p in PNPM_LOCKFILES if p.name.endswith("pnpm-lock.yaml")] + BERRY_LOCKFILES,
    ids=lambda p: str(p.relative_to(FIXTURES)),
)
def test_the_same_project_whichever_path_read_the_yaml(lockfile: Path, tmp_path: Path) -> None:
    fast_dir = _project_copy(lockfile, tmp_path / "fast" / "project")
    slow_dir = _project_copy(lockfile, tmp_path / "slow" / "project")
    slow_lockfile = next(p for p in slow_dir.iterdir() if p.name != "package.json")
    slow_lockfile.write_text(slow_lockfile.read_text(encoding="utf-8") + FORCE_PYYAML, encoding="utf-8")
    fast, slow = load_project(fast_dir), load_project(slow_dir)
    assert fast.lockfile_format == slow.lockfile_format
    assert dict(fast.nodes) == dict(slow.nodes)


# Edits that keep a line YAML-like but move it to the edges of the subset.
SIGNIFICANT = [":", ": ", " #", "#", "-", "- ", "?", "'", "''", '"', "\\", "[", "]", "{", "}", ",", "&a ", "*a", "!"]
SIGNIFICANT += [
    "|",
    ">",
    "%",
    "@",
    "`",
    " ",
    "  ",
    "\t",
    "\r",
    "\n",
    "\n  ",
    "---",
    "...",
    "\u0085",
    "\ufeff",
    "\x07",
    "é",
]


def _mutate(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    index = rng.randrange(len(lines))
    line = lines[index]
    choice = rng.randrange(9)
    if choice == 0:  # insert a significant character anywhere in the line
        at = rng.randrange(len(line) + 1)
        lines[index] = line[:at] + rng.choice(SIGNIFICANT) + line[at:]
    elif choice == 1:  # delete a character
        if line:
            at = rng.randrange(len(line))
            lines[index] = line[:at] + line[at + 1 :]
    elif choice == 2:  # indent one space more or less
        lines[index] = " " + line if rng.random() < 0.5 else line.removeprefix(" ")
    elif choice == 3:  # repeat a line (a duplicate key, or an entry in the wrong place)
        lines.insert(rng.randrange(len(lines) + 1), line)
    elif choice == 4:  # drop a line
        del lines[index]
    elif choice == 5:  # replace the value after "key: " with a significant form
        head, sep, _ = line.partition(": ")
        if sep:
            values = ["", "''", '""', "'a''b'", '"a\\"b"', "{}", "[]", "{a: b}", "[a, b]", "{a: 'b, c'}", "[a, ]"]
            values += ["{a: {b: c}}", "[[a]]", "&x b", "*x", "!!str b", "|", ">-", "b # c", "b: c", "'b' c", "-1", "~"]
            lines[index] = head + sep + rng.choice(values)
    elif choice == 6:  # a sequence item under the line
        indent = len(line) - len(line.lstrip(" "))
        lines.insert(index + 1, " " * (indent + rng.choice((0, 2))) + "- " + rng.choice(["a", "'b'", "c: d", ""]))
    elif choice == 7:  # cut the text short
        return "\n".join(lines)[: rng.randrange(len(text) + 1)]
    else:  # a document separator
        lines.insert(index, rng.choice(["---", "--- ", "...", "--- a"]))
    return "\n".join(lines)


@pytest.mark.parametrize("path", PNPM_LOCKFILES + BERRY_LOCKFILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_mutated_lockfiles_are_read_as_pyyaml_reads_them_or_declined(path: Path) -> None:
    """Whatever the fast path accepts, PyYAML reads without error into the same data."""
    text = _text(path)
    single = "yarn.lock" in path.name
    rng = random.Random(path.name)
    windows = text.split("\n")
    accepted = declined = 0
    for _ in range(300):
        start = rng.randrange(max(1, len(windows) - 60))
        window = "\n".join(windows[start : start + 60]) if len(windows) > 60 else text
        window = "\n".join(_dedented(window.split("\n")))
        mutated = window
        for _ in range(rng.randrange(1, 4)):
            mutated = _mutate(mutated, rng)
        fast = load_documents(mutated, single=single)
        if fast is None:
            declined += 1
            continue
        accepted += 1
        # Both of PyYAML's loaders (libyaml's, used when PyYAML has it, and the pure-Python one).
        for loader in {_Loader, yaml.BaseLoader}:
            try:
                expected = _pyyaml(mutated, loader) if not single else [yaml.load(mutated, Loader=loader)]
            except yaml.YAMLError as error:
                pytest.fail(f"the fast path accepted text PyYAML refuses ({error}):\n{mutated}")
            assert fast == expected, mutated
    assert accepted > 30 and declined > 30  # both outcomes were exercised


def _dedented(lines: list[str]) -> list[str]:
    """The window as a document: from its first least-indented entry, moved to column 0, up to
    the first line indented less (a window cut from a nested part of a lockfile)."""
    entries = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not entries:
        return lines
    indent = min(len(line) - len(line.lstrip(" ")) for line in entries)
    start = next(i for i, line in enumerate(lines) if line.strip() and len(line) - len(line.lstrip(" ")) == indent)
    kept = []
    for line in lines[start:]:
        if line.strip() and len(line) - len(line.lstrip(" ")) < indent:
            break
        kept.append(line[indent:])
    return kept


@pytest.mark.parametrize(
    "text",
    [
        "a: &x {b: c}\nd: *x\n",  # an anchor and an alias (the PyYAML path refuses them)
        "a: b\n  c\n",  # a plain scalar continued on the next line
        'a: "b\\nc"\n',  # an escape
        "a: |\n  b\n",  # a block scalar
        "a: {b: {c: d}}\n",  # a nested flow collection
        "a:\n\tb: c\n",  # a tab
        "? a\n: b\n",  # a complex key
        "a: b # comment\n",  # a comment after content
        "a: !!str b\n",  # a tag
        "- a\n- b\n",  # not a mapping
        "a: b\n---\n",  # an empty document
        "# only a comment\n",
        "a:\n    b: c\n  d: e\n",  # a dedent to no open level
        "a: [b, ]\n",  # a trailing comma
        "a: b\r\nc: d\r",  # a lone carriage return
        "k" * 1030 + ": v\n",  # a key longer than PyYAML accepts
        "'" + "''" * 520 + "': v\n",  # one whose quotes make it so
    ],
)
def test_text_outside_the_subset_is_declined(text: str) -> None:
    assert load_documents(text) is None


def test_the_subset_reads_as_pyyaml_reads_it() -> None:
    text = (
        "# header\n\nlockfileVersion: '9.0'\nsettings:\n  autoInstallPeers: true\nempty:\n"
        "'@scope/a@1.0.0':\n  resolution: {integrity: sha512-x==, tarball: 'https://h/a, b.tgz'}\n"
        "  engines: {node: '>=18', npm: ^9 || >=10}\n  cpu: [x64, 'arm64']\n  os: []\n  meta: {}\n"
        "  transitivePeerDependencies:\n  - supports-color\n  - 'it''s'\n"
        '"b@npm:^1, b@npm:^1.2":\n  version: 1.2.3\n  conditions: os=darwin & cpu=arm64\n'
        "dup: 1\nlast:\n  - x\ndup: 2\n"
    )
    fast = load_documents(text)
    assert fast == _pyyaml(text)
    assert fast is not None and list(fast[0])[-2:] == ["dup", "last"] and fast[0]["dup"] == "2"
    two = "---\nenv: {}\n---\nlockfileVersion: '9.0'\n"
    assert load_documents(two) == _pyyaml(two)
    assert load_documents(two, single=True) is None


def test_one_line_values_of_the_inline_paths_read_as_pyyaml_reads_them() -> None:
    """The shortcuts for pnpm's one-pair flow mappings (``{integrity: ...}``, ``{node: '>=18'}``) and
    berry's double-quoted values agree with PyYAML on random values made of YAML's significant
    characters, or leave the text to it."""
    rng = random.Random(17)
    alphabet = "Aa0_.+/=-'\"#:,{}[] \\&*!|>%@~"
    accepted = 0
    for _ in range(4000):
        body = "".join(rng.choice(alphabet) for _ in range(rng.randrange(9)))
        key = rng.choice(["node", "integrity", "a-b", "x_1"])
        for value in (f"{{{key}: {body}}}", f"{{{key}: '{body}'}}", f'"{body}"'):
            text = f"entry:\n  field: {value}\n"
            fast = load_documents(text)
            if fast is None:
                continue
            accepted += 1
            for loader in {_Loader, yaml.BaseLoader}:
                assert fast == _pyyaml(text, loader), text
    assert accepted > 3000  # most of them took the shortcuts
    for value, expected in (
        ("{integrity: sha512-AbC+/09==}", {"integrity": "sha512-AbC+/09=="}),
        ("{node: '>=18'}", {"node": ">=18"}),
        ("{node: ''}", {"node": ""}),
        ("{node: 'it''s'}", {"node": "it's"}),
        ('"@babel/core@npm:^7.0.0"', "@babel/core@npm:^7.0.0"),
    ):
        text = f"entry:\n  field: {value}\n"
        assert load_documents(text) == _pyyaml(text) == [{"entry": {"field": expected}}]


def test_every_ascii_character_is_declined_exactly_when_the_stream_check_refuses_it() -> None:
    """ASCII text is checked by bytes.translate rather than the character regex: for each of the 128
    characters, in a comment where any allowed one is harmless, both must decline the same text."""
    from npmaudit.project.readers.lockfile_yaml import _UNUSUAL

    refused = 0
    for code in range(128):
        character = chr(code)
        if character == "\n":
            continue
        text = f"a: b\n# x{character}y\n"
        if _UNUSUAL.search(character) is not None:
            refused += 1
            assert load_documents(text) is None, repr(character)
        else:
            assert load_documents(text) == [{"a": "b"}] == _pyyaml(text), repr(character)
    assert refused == 32  # the 31 C0 controls other than the line feed (tab and carriage return among them), DEL


def test_quoted_keys_read_inline_as_pyyaml_reads_them() -> None:
    """pnpm's '@scope/a@1.0.0': and berry's "a@npm:^1": keys are read without _key when nothing inside
    the quotes needs it: random keys of YAML's significant characters agree with PyYAML or are declined."""
    rng = random.Random(23)
    alphabet = "Aa0@/._-'\"#:, \\{}[]"
    accepted = 0
    for _ in range(3000):
        body = "".join(rng.choice(alphabet) for _ in range(rng.randrange(8)))
        quote = rng.choice("'\"")
        after = rng.choice([":", ": v", ":  v", ":v", " : v", ":\n  x: y", ": 'v'"])
        text = f"entry:\n  {quote}{body}{quote}{after}\n"
        fast = load_documents(text)
        if fast is None:
            continue
        accepted += 1
        assert fast == _pyyaml(text), text
    assert accepted > 1000


@pytest.mark.parametrize("length", range(1014, 1032))
def test_keys_near_the_length_limit_read_as_pyyaml_reads_them_or_are_declined(length: int) -> None:
    """The key's length is measured only when it can be too long: plain and quoted keys, with and
    without extra spaces after the colon, with a value or opening a block. PyYAML refuses the longest
    (no simple key over 1024 characters): the fast path must have declined them."""
    for key in ("k" * length, "'" + "k" * (length - 2) + "'", '"' + "k" * (length - 2) + '"'):
        for after in (":", ": v", ":  v", ":   v", ":\n  x: y"):
            text = f"{key}{after}\n"
            fast = load_documents(text)
            if fast is not None:
                assert fast == _pyyaml(text), (length, key[0], after)
            elif length + len(after.split("\n")[0]) - 1 <= 1000:
                raise AssertionError(f"a short key left the fast path: {length} {after!r}")


def test_identical_flow_lines_give_distinct_collections() -> None:
    """Each distinct line is read once, but every line that holds a flow collection gets its own
    object, as PyYAML gives: a reader changing one entry's mapping changes no other entry."""
    text = (
        "a@1.0.0:\n  engines: {node: '>=18'}\n  cpu: [x64]\n  meta: {}\n  resolution: {integrity: sha512-x==}\n"
        "b@1.0.0:\n  engines: {node: '>=18'}\n  cpu: [x64]\n  meta: {}\n  resolution: {integrity: sha512-x==}\n"
    )
    fast = load_documents(text)
    assert fast == _pyyaml(text)
    assert fast is not None
    a, b = fast[0]["a@1.0.0"], fast[0]["b@1.0.0"]
    for field in ("engines", "cpu", "meta", "resolution"):
        assert a[field] == b[field] and a[field] is not b[field], field
    a["engines"]["node"] = "changed"
    assert b["engines"] == {"node": ">=18"}


@pytest.mark.parametrize(
    "text",
    [
        "a:\n  b: c\nd: e\n  b: c\n",  # the same line: an entry, then a scalar's continuation
        "a:\n  - x\nb: c\n- x\n",  # the same item: in a sequence, then among the root's entries
        "a:\n  'k':\n    x: y\nb: c\n  'k':\n",  # the same quoted key: opening a block, then under a scalar
    ],
)
def test_a_repeated_line_is_judged_where_it_stands(text: str) -> None:
    """A line is read once whatever its place, but where it stands is checked at each place: the
    second occurrence of each line here is one PyYAML refuses, and the fast path declines."""
    with pytest.raises(yaml.YAMLError):
        _pyyaml(text)
    assert load_documents(text) is None
    first_half = text[: text.index("\n", text.index("\n") + 1) + 1]
    assert load_documents(first_half) == _pyyaml(first_half)  # the line itself is in the subset


# Reads a pnpm and a berry lockfile in a fresh interpreter and prints the modules it loaded.
_MODULES_AFTER_READING = """
import json, sys
from pathlib import Path
from npmaudit.project.loader import load_project
for folder in sys.argv[1:]:
    load_project(Path(folder))
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after_reading(*folders: Path) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _MODULES_AFTER_READING, *map(str, folders)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(done.stdout))


def test_a_lockfile_the_fast_path_reads_imports_no_pyyaml(tmp_path: Path) -> None:
    """PyYAML (and yarn classic's reader, the glob matcher only classic's workspaces need, and typing,
    which annotations alone use) are imported by the runs that use them, not by every pnpm or berry
    audit: a tenth of a fresh run."""
    pnpm = _project_copy(FIXTURES / "pnpm-v9" / "vuejs__core__pnpm-lock.yaml", tmp_path / "pnpm")
    berry = _project_copy(
        FIXTURES / "yarn-berry" / "prettier__prettier__scripts__release" / "yarn.lock", tmp_path / "berry"
    )
    loaded = _modules_after_reading(pnpm, berry)
    assert "npmaudit.project.readers.pnpm.lockfile" in loaded and "npmaudit.project.readers.yarn.berry" in loaded
    assert not {"yaml", "typing", "npmaudit.project.readers.yarn.classic", "npmaudit.project.globs"} & loaded
    # A text the fast path declines still reads, through PyYAML imported then.
    lockfile = pnpm / "pnpm-lock.yaml"
    lockfile.write_text(lockfile.read_text(encoding="utf-8") + FORCE_PYYAML, encoding="utf-8")
    assert "yaml" in _modules_after_reading(pnpm)
