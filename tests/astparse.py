"""``ast.parse`` for the tests that scan our sources."""

from __future__ import annotations

import ast
from pathlib import Path


def parse_file(path: Path) -> ast.Module:
    """The module's syntax tree. Python 3.11 can raise a spurious ``SystemError: AST constructor recursion
    depth mismatch`` while other threads of the process compile code (cpython#106905, fixed in later
    releases); the same parse is tried again then, at most twice."""
    source = path.read_text()
    for attempt in range(3):
        try:
            return ast.parse(source, str(path))
        except SystemError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
