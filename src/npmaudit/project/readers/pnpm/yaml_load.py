"""Loading pnpm-lock.yaml text into plain Python data, and finding the line of a key afterwards.

Why the base loader: pnpm writes its lockfile with js-yaml, which reads YAML 1.2; PyYAML's safe
loader applies YAML 1.1 rules and would turn a package named ``yes``/``on`` into a boolean or a
``1e3`` key into a float. The base loader keeps every scalar a string exactly as written (so
``lockfileVersion: 5.4`` is ``"5.4"`` and ``dev: true`` is ``"true"``); the reader interprets types
itself. The C loader is used when PyYAML was built with libyaml (it is several times faster).

Which document: pnpm 11 may write two YAML documents into pnpm-lock.yaml. The file then starts
with ``---``; the first document is the "env lockfile" (``configDependencies`` /
``packageManagerDependencies`` of pnpm itself) and the second is the project's lockfile. pnpm's own
reader (``extractMainDocument`` in @pnpm/lockfile.fs) skips the first document in exactly that
case; we do the same: one document is the lockfile; of two, the second is; more is an error.

Line numbers: loading is the fast path and keeps no positions. When the reader finds a malformed
entry it names the entry by its key path, and :func:`line_of` composes the document again (slowly,
only on that error path) to turn the key path into a 1-based line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from npmaudit import TYPE_CHECKING, textfile
from npmaudit.errors import InputError
from npmaudit.project.readers.lockfile_yaml import base_loader, load_documents
from npmaudit.project.readers.yaml_aliases import refuse_aliases

if TYPE_CHECKING:
    from typing import Any


def read_text(path: Path) -> str:
    """The file's text; a one-line InputError when it cannot be read or is not UTF-8."""
    return textfile.read_text(path, "lockfile")


def load_lockfile_document(path: Path, text: str) -> tuple[dict[str, Any], int]:
    """The lockfile document as a dict of strings, lists and dicts, and its index in the file."""
    if not text or text.isspace():  # not text.strip(): no copy of the whole text
        raise InputError(path, "empty lockfile")
    fast = load_documents(text)  # the subset pnpm writes; None sends the text to PyYAML
    if fast is not None and len(fast) <= 2:
        return fast[-1], len(fast) - 1
    import yaml  # only for a text the fast path declined

    loader = base_loader()
    try:
        documents = list(yaml.load_all(text, Loader=loader))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = (error.problem or error.context or "malformed YAML").strip()
        # At the end of a truncated file the scanner's mark sits one line past the last one.
        last_line = text.count("\n") + (0 if text.endswith("\n") else 1)
        line = min(mark.line + 1, last_line) if mark else None
        raise InputError(path, f"not valid YAML: {problem}", line) from None
    except yaml.YAMLError as error:
        raise InputError(path, f"not valid YAML: {str(error).splitlines()[0]}") from None
    except RecursionError:
        # PyYAML builds nested collections recursively: thousands of levels exhaust the stack.
        raise InputError(path, "not valid YAML: nested too deeply") from None
    refuse_aliases(path, text, documents, loader)
    documents = [document for document in documents if document not in (None, "")]
    if not documents:
        raise InputError(path, "empty lockfile")
    if len(documents) > 2:
        found = len(documents)
        raise InputError(path, f"expected one YAML document (or an env document and the lockfile), found {found}")
    index = len(documents) - 1
    document = documents[index]
    if not isinstance(document, dict):
        raise InputError(path, "not a pnpm lockfile: the top level is not a mapping", 1)
    return document, index


def line_of(text: str, document_index: int, key_path: Sequence[str]) -> int | None:
    """The 1-based line of the deepest key of ``key_path`` found in the document, or None."""
    import yaml  # only on this error path

    try:
        nodes = [node for node in yaml.compose_all(text, Loader=base_loader()) if node is not None]
    except (yaml.YAMLError, RecursionError):
        return None
    nodes = [node for node in nodes if not (isinstance(node, yaml.ScalarNode) and node.value == "")]
    if document_index >= len(nodes):
        return None
    node: yaml.Node = nodes[document_index]
    line = node.start_mark.line + 1
    for key in key_path:
        if not isinstance(node, yaml.MappingNode):
            break
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                line = key_node.start_mark.line + 1
                node = value_node
                break
        else:
            break
    return line
