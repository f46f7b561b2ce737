"""The version and range grammar of node-semver 7.8.5, as Python regular expressions.

Why a faithful transcription of the grammar instead of a "nicer" parser: npm decides
what is installable and what is vulnerable with these exact patterns, quirks included
(loose prereleases without a hyphen, `[v=\\s]*` prefixes, whitespace after operators).
Any divergence is a wrong audit verdict.

Three differences between JavaScript and Python regexes are neutralised here:

* JavaScript's `\\s` is a fixed set of Unicode spaces and line terminators; Python's `\\s`
  is a different set. `WS` is JavaScript's: Python's less what only Python counts, plus the BOM.
* Python's `\\d` matches any Unicode digit; JavaScript's only ASCII. We use `[0-9]`.
* Python's `$` also matches before a trailing newline; JavaScript's does not. We use `\\Z`.

node-semver bounds its repetitions (`\\d{0,256}` instead of `\\d*` and so on) to avoid
catastrophic backtracking. The bounds change which long inputs are accepted, so we apply
the same bounds: MAX_LENGTH digits, MAX_LENGTH - 6 identifier characters and at most one
whitespace character where whitespace is optional (inputs are whitespace-collapsed first).

Ranges reach us from strangers (advisories, registry answers, lockfiles), and node-semver
has no length limit on a range (only a version is limited, to MAX_LENGTH characters), so
every pattern here must take time linear in its input:

* the loose prefix `[v=\\s]*` is the one repetition node-semver leaves unbounded; it is
  possessive here (`*+`): what follows it (a digit, `x`, `X` or `*`) can never start with a
  prefix character, so giving characters back can never produce a match, only cost time;
* COMPARATOR_TRIM is the one unanchored search that starts with that prefix: a failed
  attempt inside a run of prefix characters fails at every later start in the run too,
  so :func:`trim_comparators` skips the run instead of retrying (30,000 `v` took 25 s);
* trimming uses `str.strip`, not a regex that retried every whitespace run to the end.
"""

from __future__ import annotations

import re

MAX_LENGTH = 256
MAX_SAFE_INTEGER = 2**53 - 1
_MAX_BUILD_CHARS = MAX_LENGTH - 6

# JavaScript WhiteSpace + LineTerminator code points (what `\s` and String.prototype.trim() use) are
# Python's `\s` (str.isspace) less the four information separators and NEL, plus the byte-order
# mark: `[^\S\x1c-\x1f\x85]|\ufeff`. Spelled through `\s` rather than as a class listing the code
# points, because re.compile builds a 64k-entry table for every occurrence of a class of scattered
# non-ASCII code points: a third of compiling the range patterns, which an audit does in every run.
# tests/test_semver_guards.py holds both spellings equal on every code point.
_JS_SPACE = "[^\\S\x1c-\x1f\x85]|\ufeff"
WS = f"(?:{_JS_SPACE})"
_WS_OPT = f"{WS}{{0,1}}"  # an optional single space (input is collapsed before these run)
_WS_ONE = f"{WS}{{1,1}}"
_WS_RUN = re.compile(f"{WS}+")


def js_trim(text: str) -> str:
    """String.prototype.trim(): strips exactly JavaScript's whitespace set."""
    if not text or (text[0] not in _TRIM_SET and text[-1] not in _TRIM_SET):
        return text  # fast path: nothing to strip
    return text.strip(_TRIM_CHARS)


def collapse_ws(text: str) -> str:
    """Replace every run of JavaScript whitespace with one space."""
    return _WS_RUN.sub(" ", text)


def split_ws(text: str) -> list[str]:
    """`text.split(/\\s+/)`."""
    return _WS_RUN.split(text)


_TRIM_CHARS = "\t\n\x0b\x0c\r \xa0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff" + "".join(
    chr(c) for c in range(0x2000, 0x200B)
)
_TRIM_SET = frozenset(_TRIM_CHARS)
_PREFIX_SET = frozenset("v=" + _TRIM_CHARS)  # the characters of the loose prefix [v=\s]
_BEFORE_TRIMMED_SPACE = frozenset("<>=" + _TRIM_CHARS)  # what precedes a space COMPARATOR_TRIM drops

_LDN = "[a-zA-Z0-9-]"
_NUM = f"0|[1-9][0-9]{{0,{MAX_LENGTH}}}"
_NUM_LOOSE = f"[0-9]{{1,{MAX_LENGTH}}}"
_NON_NUM = f"[0-9]{{0,{MAX_LENGTH}}}[a-zA-Z-]{_LDN}{{0,{_MAX_BUILD_CHARS}}}"

_MAIN = f"({_NUM})\\.({_NUM})\\.({_NUM})"
_MAIN_LOOSE = f"({_NUM_LOOSE})\\.({_NUM_LOOSE})\\.({_NUM_LOOSE})"

# A non-numeric identifier must be tried first: it can start with digits.
_PRE_ID = f"(?:{_NON_NUM}|{_NUM})"
_PRE_ID_LOOSE = f"(?:{_NON_NUM}|{_NUM_LOOSE})"
PRERELEASE_SRC = f"(?:-({_PRE_ID}(?:\\.{_PRE_ID})*))"
PRERELEASE_LOOSE_SRC = f"(?:-?({_PRE_ID_LOOSE}(?:\\.{_PRE_ID_LOOSE})*))"  # "1.2.3beta" is loose-valid

_BUILD_ID = f"{_LDN}{{1,{_MAX_BUILD_CHARS}}}"
_BUILD = f"(?:\\+({_BUILD_ID}(?:\\.{_BUILD_ID})*))"

_PREFIX_LOOSE = f"(?:[v=]|{_JS_SPACE})*+"  # unbounded in node-semver too; possessive here (module docstring)
_FULL_PLAIN = f"v?{_MAIN}{PRERELEASE_SRC}?{_BUILD}?"
_LOOSE_PLAIN = f"{_PREFIX_LOOSE}{_MAIN_LOOSE}{PRERELEASE_LOOSE_SRC}?{_BUILD}?"

_GTLT = "((?:<|>)?=?)"
_XID = f"{_NUM}|x|X|\\*"
_XID_LOOSE = f"{_NUM_LOOSE}|x|X|\\*"
_XPLAIN = f"{_PREFIX_LOOSE}({_XID})(?:\\.({_XID})(?:\\.({_XID})(?:{PRERELEASE_SRC})?{_BUILD}?)?)?"
_XPLAIN_LOOSE = (
    f"{_PREFIX_LOOSE}({_XID_LOOSE})(?:\\.({_XID_LOOSE})(?:\\.({_XID_LOOSE})(?:{PRERELEASE_LOOSE_SRC})?{_BUILD}?)?)?"
)

# Every pattern by name, compiled the first time it is used (``_grammar.FULL`` reaches the module's
# ``__getattr__`` once, which keeps the compiled pattern as a global). Compiling all of them at
# import took 14 ms, a tenth of an offline audit, which uses two or three.
_SOURCES: dict[str, str] = {
    # Groups: 1-3 major/minor/patch, 4 prerelease, 5 build.
    "FULL": f"^{_FULL_PLAIN}\\Z",
    "LOOSE": f"^{_LOOSE_PLAIN}\\Z",
    # Groups: 1 operator, 2-4 major/minor/patch (may be x), 5 prerelease, 6 build.
    "XRANGE": f"^{_GTLT}{_WS_OPT}{_XPLAIN}\\Z",
    "XRANGE_LOOSE": f"^{_GTLT}{_WS_OPT}{_XPLAIN_LOOSE}\\Z",
    # Groups: 1-3 major/minor/patch, 4 prerelease, 5 build.
    "TILDE": f"^(?:~>?){_XPLAIN}\\Z",
    "TILDE_LOOSE": f"^(?:~>?){_XPLAIN_LOOSE}\\Z",
    "TILDE_TRIM": f"({_WS_OPT})(?:~>?){_WS_ONE}",
    "CARET": f"^(?:\\^){_XPLAIN}\\Z",
    "CARET_LOOSE": f"^(?:\\^){_XPLAIN_LOOSE}\\Z",
    "CARET_TRIM": f"({_WS_OPT})(?:\\^){_WS_ONE}",
    # Groups: 1 operator, 2 the version text (absent for the empty comparator = any version).
    "COMPARATOR": f"^{_GTLT}{_WS_OPT}({_FULL_PLAIN})\\Z|^\\Z",
    "COMPARATOR_LOOSE": f"^{_GTLT}{_WS_OPT}({_LOOSE_PLAIN})\\Z|^\\Z",
    # `> 1.2.3` -> `>1.2.3`; always uses the loose and x-range forms, whatever the mode.
    # Use trim_comparators(), not COMPARATOR_TRIM.sub(): it skips prefix runs.
    "COMPARATOR_TRIM": f"({_WS_OPT}){_GTLT}{_WS_OPT}({_LOOSE_PLAIN}|{_XPLAIN})",
    # Groups: 1 whole "from", 2-6 its parts; 7 whole "to", 8-12 its parts.
    "HYPHEN": f"^{_WS_OPT}({_XPLAIN}){_WS_ONE}-{_WS_ONE}({_XPLAIN}){_WS_OPT}\\Z",
    "HYPHEN_LOOSE": f"^{_WS_OPT}({_XPLAIN_LOOSE}){_WS_ONE}-{_WS_ONE}({_XPLAIN_LOOSE}){_WS_OPT}\\Z",
    "STAR": f"(<|>)?=?{_WS_OPT}\\*",
    "GTE0": f"^{_WS_OPT}>={_WS_OPT}0\\.0\\.0{_WS_OPT}\\Z",
    "GTE0_PRE": f"^{_WS_OPT}>={_WS_OPT}0\\.0\\.0-0{_WS_OPT}\\Z",
    # Build metadata is stripped from range text before parsing. node-semver uses the
    # *unbounded* form here, so we do too.
    "BUILD": f"(?:\\+({_LDN}+(?:\\.{_LDN}+)*))",
    "BUILD_BOUNDED": _BUILD,
    "PRERELEASE": PRERELEASE_SRC,
    "PRERELEASE_LOOSE": PRERELEASE_LOOSE_SRC,
    "NUMERIC": "^[0-9]+\\Z",
}


def __getattr__(name: str) -> re.Pattern[str]:
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    pattern = globals()[name] = re.compile(source)
    return pattern


def is_numeric(text: str) -> bool:
    """``NUMERIC.match(text)`` without a pattern: the ASCII digits are the only ASCII characters
    ``str.isdigit`` accepts."""
    return text.isascii() and text.isdigit()


def may_be_hyphen_range(text: str) -> bool:
    """False when HYPHEN cannot match ``text``: it needs a ``-`` with whitespace on either side.
    Most ranges have none, and then the two largest patterns of the grammar are never compiled."""
    position = text.find("-", 1)
    while position != -1:
        if text[position - 1] in _TRIM_SET and text[position + 1 : position + 2] in _TRIM_SET:
            return True
        position = text.find("-", position + 1)
    return False


def _has_space_to_trim(text: str) -> bool:
    """Whether COMPARATOR_TRIM could change ``text``. A match is replaced by its groups 1-3, that
    is by itself less the optional whitespace between operator and version; that whitespace follows
    the operator (``<``, ``>``, ``=``) or, with no operator, group 1's whitespace (a match starting on
    whitespace takes it in group 1 first: the same continuation, tried before). Without whitespace
    after one of those characters every replacement is the text it replaces."""
    previous = ""
    for char in text:
        if char in _TRIM_SET and previous in _BEFORE_TRIMMED_SPACE:
            return True
        previous = char
    return False


def trim_comparators(text: str) -> str:
    """`text.replace(COMPARATORTRIM, "$1$2$3")` in linear time.

    An attempt that starts on a prefix character ends its prefix where the run of prefix
    characters ends, whatever the start; so when it fails, every start up to that point fails
    as well, and the scan moves past the run instead of trying each of them."""
    if not _has_space_to_trim(text):
        return text  # the replacement would change nothing: the pattern need not even be compiled
    # Looked up once: inside this module a name is not found through __getattr__, and calling it
    # on every position would re-enter re.compile's cache each time.
    pattern = globals().get("COMPARATOR_TRIM") or __getattr__("COMPARATOR_TRIM")
    out: list[str] = []
    kept = position = 0
    length = len(text)
    while position < length:
        m = pattern.match(text, position)
        if m is not None:
            out.append(text[kept : m.start()])
            out.append((m[1] or "") + (m[2] or "") + (m[3] or ""))
            kept = position = m.end()  # never empty: a number or x always follows the prefix
            continue
        if text[position] in _PREFIX_SET:
            while position < length and text[position] in _PREFIX_SET:
                position += 1
        else:
            position += 1
    out.append(text[kept:])
    return "".join(out)
