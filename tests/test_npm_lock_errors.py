"""Bad npm lockfiles are InputErrors (exit 2) naming the file and, where it can be known, the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from npmaudit.errors import EXIT_INPUT, InputError
from npmaudit.project.readers.npm.lockfile import read

REAL = Path(__file__).parent / "fixtures" / "lockfiles" / "npm"


def write(tmp_path: Path, text: str | bytes, name: str = "package-lock.json") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def failure(path: Path) -> InputError:
    with pytest.raises(InputError) as caught:
        read(path)
    error = caught.value
    assert error.exit_code == EXIT_INPUT
    assert error.path == str(path)
    assert str(error).startswith(str(path))
    assert "\n" not in str(error)
    return error


def test_empty_file(tmp_path: Path) -> None:
    assert failure(write(tmp_path, "")).problem == "empty file"
    assert failure(write(tmp_path, " \n\n")).problem == "empty file"


def test_malformed_json_reports_the_line(tmp_path: Path) -> None:
    text = '{\n  "lockfileVersion": 3,\n  "packages": {,\n  }\n}\n'
    error = failure(write(tmp_path, text))
    assert error.line == 3
    assert error.problem.startswith("malformed JSON")


@pytest.mark.parametrize(("marker", "extra"), [('"resolved": "', 5), ('"version"', 0), ("},\n", 0), ("true", 0)])
def test_truncated_real_lockfile(tmp_path: Path, marker: str, extra: int) -> None:
    """Cut inside a string, after a key, between entries, after a value: all say truncated."""
    text = (REAL / "mochajs__mocha" / "package-lock.json").read_text(encoding="utf-8")
    cut = text[: text.index(marker, len(text) // 2) + len(marker) + extra]
    error = failure(write(tmp_path, cut))
    assert error.problem == "truncated JSON: the file ends before the document does"
    assert error.line == cut.rstrip().count("\n") + 1


def test_top_level_must_be_an_object(tmp_path: Path) -> None:
    error = failure(write(tmp_path, '[{"lockfileVersion": 3}]'))
    assert error.problem == "the top level must be a JSON object, not an array"


def test_missing_lockfile_version(tmp_path: Path) -> None:
    error = failure(write(tmp_path, '{"name": "x", "packages": {}}'))
    assert error.problem.startswith("missing lockfileVersion")


@pytest.mark.parametrize("value", ["4", '"3"', "true", "null", "0"])
def test_unsupported_lockfile_version(tmp_path: Path, value: str) -> None:
    error = failure(write(tmp_path, '{\n  "name": "x",\n  "lockfileVersion": ' + value + "\n}"))
    assert error.problem == f"unsupported lockfileVersion {value} (npmaudit reads 1, 2 and 3)"
    assert error.line == 3


def test_packages_must_be_an_object(tmp_path: Path) -> None:
    error = failure(write(tmp_path, '{\n  "lockfileVersion": 3,\n  "packages": []\n}'))
    assert (error.problem, error.line) == ('"packages" must be an object, not an array', 3)


def test_package_entry_must_be_an_object(tmp_path: Path) -> None:
    lock = {"lockfileVersion": 3, "packages": {"": {}, "node_modules/a": "1.0.0"}}
    error = failure(write(tmp_path, json.dumps(lock, indent=2)))
    assert error.problem == 'package entry "node_modules/a" must be an object, not a string'
    assert error.line == 5


def test_package_entry_field_types(tmp_path: Path) -> None:
    lock = {"lockfileVersion": 2, "packages": {"": {}, "node_modules/a": {"version": 1}}}
    error = failure(write(tmp_path, json.dumps(lock, indent=2)))
    assert error.problem == '"version" of "node_modules/a" must be a string, not a number'
    lock = {"lockfileVersion": 2, "packages": {"": {}, "node_modules/a": {"dependencies": ["b"]}}}
    error = failure(write(tmp_path, json.dumps(lock, indent=2)))
    assert error.problem == '"dependencies" of "node_modules/a" must be an object, not an array'
    assert error.line == 5
    lock = {"lockfileVersion": 2, "packages": {"": {"dependencies": {"b": 2}}}}
    error = failure(write(tmp_path, json.dumps(lock, indent=2)))
    assert error.problem == '"dependencies.b" of the root entry must be a string, not a number'


def test_link_without_or_with_a_missing_target(tmp_path: Path) -> None:
    lock = {"lockfileVersion": 3, "packages": {"": {}, "node_modules/w": {"link": True}}}
    assert failure(write(tmp_path, json.dumps(lock, indent=2))).problem == (
        'link entry "node_modules/w" has no "resolved" target'
    )
    lock = {"lockfileVersion": 3, "packages": {"": {}, "node_modules/w": {"link": True, "resolved": "packages/w"}}}
    error = failure(write(tmp_path, json.dumps(lock, indent=2)))
    assert error.problem == 'link "node_modules/w" points to "packages/w", which the lockfile does not contain'
    assert error.line == 5


def test_v1_dependencies_must_be_an_object(tmp_path: Path) -> None:
    error = failure(write(tmp_path, '{\n  "lockfileVersion": 1,\n  "dependencies": "a"\n}'))
    assert (error.problem, error.line) == ('"dependencies" must be an object, not a string', 3)


def test_v1_nested_entry_types_point_at_the_nested_entry(tmp_path: Path) -> None:
    lock = {
        "lockfileVersion": 1,
        "requires": True,
        "dependencies": {
            "b": {"version": "1.0.0"},
            "a": {"version": "1.0.0", "dependencies": {"b": {"version": ["2.0.0"]}}},
        },
    }
    text = json.dumps(lock, indent=2)
    error = failure(write(tmp_path, text))
    assert error.problem == '"version" of "b" must be a string, not an array'
    assert error.line == 11  # the nested "b", not the top-level one
    lock["dependencies"]["a"]["dependencies"]["b"] = 7
    error = failure(write(tmp_path, json.dumps(lock, indent=2)))
    assert error.problem == 'dependency "b" must be an object, not a number'
    assert error.line == 11


def test_git_merge_conflict_markers(tmp_path: Path) -> None:
    text = '{\n  "lockfileVersion": 3,\n<<<<<<< HEAD\n  "packages": {}\n=======\n  "packages": {"": {}}\n>>>>>>> b\n}\n'
    error = failure(write(tmp_path, text))
    assert (error.problem, error.line) == ("unresolved git merge conflict markers", 3)


def test_not_utf8(tmp_path: Path) -> None:
    error = failure(write(tmp_path, b'{\n "lockfileVersion": 3,\n "name": "\xff"\n}'))
    assert (error.problem, error.line) == ("not UTF-8 text", 3)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert failure(tmp_path / "package-lock.json").problem == "no such file"
    (tmp_path / "d" / "package-lock.json").mkdir(parents=True)
    assert failure(tmp_path / "d" / "package-lock.json").problem == "is a directory, not a lockfile"


def test_malformed_package_json_beside_the_lockfile(tmp_path: Path) -> None:
    write(tmp_path, '{"lockfileVersion": 3, "packages": {"": {}}}')
    manifest = write(tmp_path, '{\n  "name": "x",\n  "dependencies": {"a": 1}\n}', name="package.json")
    with pytest.raises(InputError) as caught:
        read(tmp_path / "package-lock.json")
    assert caught.value.path == str(manifest)
    assert caught.value.problem == '"dependencies.a" of "package.json" must be a string, not a number'
    assert caught.value.line == 3
