"""npm's sort order: ``@isaacs/string-locale-compare('en')``, i.e. ``Intl.Collator('en')``.

npm sorts vulnerability names, ``via``, ``effects`` and ``nodes`` with ICU's English collation, not
by code point, so ``a-b`` sorts *after* ``a_b`` and before ``a.b``, digits before letters, and
``a`` before ``A``. Python's stdlib has no ICU, so this is a sort key that reproduces ICU's root
collation for the characters package names, locations and advisory ids are made of: primary
weights for punctuation and symbols (non-ignorable, in CLDR root order), then digits, then
letters case-insensitively; ties broken by case (lowercase first) position by position.
"""

from __future__ import annotations

from collections.abc import Iterable

# CLDR root order of the ASCII punctuation and symbols (all non-ignorable with ICU's 'en' default).
_PUNCTUATION = "\t\n\v\f\r _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$"
_PRIMARY: dict[str, int] = {}
for _i, _c in enumerate(_PUNCTUATION):
    _PRIMARY[_c] = _i + 1
_DIGIT_BASE = len(_PUNCTUATION) + 1
for _d in range(10):
    _PRIMARY[str(_d)] = _DIGIT_BASE + _d
_LETTER_BASE = _DIGIT_BASE + 10
for _l in range(26):
    _PRIMARY[chr(ord("a") + _l)] = _LETTER_BASE + _l
    _PRIMARY[chr(ord("A") + _l)] = _LETTER_BASE + _l
_OTHER_BASE = _LETTER_BASE + 26


def collation_key(text: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A key whose tuple order equals ``Intl.Collator('en').compare`` on ASCII text.

    Characters outside ASCII sort after the letters by code point: an approximation (ICU would
    interleave accented letters), good enough for npm package names, which are ASCII.
    """
    primary = tuple(_PRIMARY.get(c, _OTHER_BASE + ord(c)) for c in text)
    tertiary = tuple(1 if c.isupper() else 0 for c in text)
    return primary, tertiary


def locale_sorted(items: Iterable[str]) -> list[str]:
    """Sort like ``[...].sort(localeCompare)``: stable, so exact duplicates keep their order."""
    return sorted(items, key=collation_key)
