"""What making a value class costs: ``@record_class`` (npmaudit.records) against ``@dataclass``.

    .venv/bin/python bench/record_classes.py [--classes 300]

For each set of options the same five-field declaration is made ``--classes`` times by each
decorator, alone and then with a first instance (a record compiles its ``__init__`` then). Prints
milliseconds per class and the ratio, from one run (note the load average beside them). Importing
:mod:`dataclasses` itself (with :mod:`inspect`) is timed in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from npmaudit.records import field, record_class

OPTIONS: list[dict[str, bool]] = [
    {},
    {"frozen": True},
    {"frozen": True, "slots": True},
    {"order": True, "frozen": True},
]


def make_classes(
    decorate: Callable[[type], type], make_field: Callable[..., Any], count: int, instantiate: bool
) -> float:
    """Seconds per class: ``count`` declarations, each decorated (and instantiated once if asked)."""
    started = time.perf_counter()
    for index in range(count):
        namespace = {
            "__module__": __name__,
            "__annotations__": {"name": "str", "version": "str", "tags": "tuple[str, ...]", "seen": "list[str]"},
            "tags": (),
            "seen": make_field(default_factory=list),
        }
        made = decorate(type(f"Value{index}", (), namespace))
        if instantiate:
            made("a", "1")
    return (time.perf_counter() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=300)
    args = parser.parse_args()
    import dataclasses

    print(f"load average {' '.join(f'{n:.2f}' for n in os.getloadavg())}; ms per class, {args.classes} classes")
    for options in OPTIONS:
        for instantiate in (False, True):
            ours = make_classes(record_class(**options), field, args.classes, instantiate)
            theirs = make_classes(dataclasses.dataclass(**options), dataclasses.field, args.classes, instantiate)
            label = ", ".join(options) or "plain"
            when = "made and instantiated" if instantiate else "made"
            print(
                f"  {label:22} {when:22} record {ours * 1000:.3f}  dataclass {theirs * 1000:.3f}  "
                f"{theirs / ours:.1f}x cheaper"
            )
    probe = "import time, typing; s = time.perf_counter(); import dataclasses; print(time.perf_counter() - s)"
    costs = [
        float(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout) for _ in range(5)
    ]
    print(f"  import dataclasses (and inspect) after typing, fresh interpreter: {min(costs) * 1000:.1f} ms (best of 5)")


if __name__ == "__main__":
    main()
