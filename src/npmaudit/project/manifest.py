"""Reading a package.json beside a lockfile: parsed JSON, or a one-line InputError naming the file.

The readers that only need the manifest's content (yarn, pnpm importers, npm_ex, lockfile detection)
share this; the npm readers go through npm_locktext, whose errors also locate bad fields.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from npmaudit import textfile
from npmaudit.errors import InputError
from npmaudit.project.readers.npm.locktext import json_type


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The package.json at ``path`` as a dict; None when there is none (a manifest is optional)."""
    if not path.exists():  # also a dangling link: no manifest, as the package managers see it
        return None
    text = textfile.read_text(path, "package.json")
    if not text.strip():
        raise InputError(path, "empty package.json")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(path, f"not valid JSON: {error.msg}", error.lineno) from None
    except RecursionError:  # json decodes nested arrays and objects recursively
        raise InputError(path, "not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise InputError(path, f"the top level must be a JSON object, not {json_type(data)}", 1)
    return data
