"""Pulumi's rules for project and stack names, with Pulumi's own wording.

The engine refuses a bad name only when a task runs (``pulumi stack select``/``stack init``), after the
credential was obtained; checking the same rules here lets a literal name fail when the DAG file is parsed
and a templated one as soon as it is rendered. The texts are the ones the Pulumi CLI prints
(``sdk/go/common/tokens``: ``ParseStackName``, ``ValidateProjectName``), so the stand-in engine, which uses
these functions too, fails exactly where and how the real CLI does.

Plain Python: no Airflow, no Pulumi.
"""

from __future__ import annotations

import re

MAX_NAME_LENGTH = 100  # stack and project names alike
_STACK_CHARS = re.compile(r"[A-Za-z0-9_.-]*")
_PROJECT_RE = re.compile(r"[A-Za-z0-9_.-]+")
#: The only organization a file or bucket (diy) backend accepts in a qualified stack name.
DIY_ORGANIZATION = "organization"


def _go_quote_byte(value: int) -> str:
    """A byte as Go's ``%q`` prints it (a single-quoted character literal)."""
    escapes = {7: r"\a", 8: r"\b", 9: r"\t", 10: r"\n", 11: r"\v", 12: r"\f", 13: r"\r", 39: r"\'", 92: "\\\\"}
    if value in escapes:
        return f"'{escapes[value]}'"
    char = chr(value)
    if char.isprintable():
        return f"'{char}'"
    return f"'\\x{value:02x}'" if value < 0x80 else f"'\\u{value:04x}'"


def stack_name_problem(name: str) -> str | None:
    """What Pulumi says about a bare stack name (no ``org/`` or ``project/`` part), or ``None`` if valid.

    :param name: the last part of a stack reference.
    """
    if name == "":
        return "a stack name may not be empty"
    raw = name.encode("utf-8")
    if len(raw) > MAX_NAME_LENGTH:  # Go counts bytes
        return f"a stack name cannot exceed {MAX_NAME_LENGTH} characters"
    matched = len(_STACK_CHARS.match(name).group(0).encode("utf-8"))  # type: ignore[union-attr]
    if matched != len(raw):
        return (
            "a stack name may only contain alphanumeric, hyphens, underscores, or periods: "
            f"invalid character {_go_quote_byte(raw[matched])} at position {matched}"
        )
    return None


def project_name_problem(name: str) -> str | None:
    """What Pulumi says about a project name, or ``None`` if valid.

    :param name: the project name.
    """
    if name == "":
        return "project names may not be empty"
    if len(name.encode("utf-8")) > MAX_NAME_LENGTH:
        return f"project names are limited to {MAX_NAME_LENGTH} characters"
    if not _PROJECT_RE.fullmatch(name):
        return "project names may only contain alphanumerics, hyphens, underscores, and periods"
    return None


def stack_reference_problem(reference: str, *, diy: bool = False) -> str | None:
    """What Pulumi says about ``name``, ``org/name`` or ``org/project/name``, or ``None`` if valid.

    Checked in the CLI's order: the organization (diy backends only), the project, then the name. More
    than three parts leave the CLI with no name at all, hence its message for them.

    :param reference: the stack as given to ``--stack``.
    :param diy: a file or bucket backend, whose only organization is ``organization``.
    """
    parts = reference.split("/")
    if len(parts) > 3:
        return stack_name_problem("")
    if diy and len(parts) > 1 and parts[0] != DIY_ORGANIZATION:
        return f"organization name must be '{DIY_ORGANIZATION}'"
    if len(parts) == 3:
        problem = project_name_problem(parts[1])
        if problem:
            return problem
    return stack_name_problem(parts[-1])
