"""argparse value types shared by the commands."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def positive(kind: type[int] | type[float], unit: str = "") -> Callable[[str], int | float]:
    """A number above 0 of ``kind`` (``unit`` names it in the message: "seconds")."""
    of_unit = f" {unit}" if unit else ""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number{' of' + of_unit if unit else ''}: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be more than 0{of_unit}: {text!r}")
        return value

    return parse


def advisory_id(text: str) -> str:
    """An advisory id given on the command line: an empty one (an unset shell variable) names nothing."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty advisory id (is a shell variable unset?)")
    return text.strip()
