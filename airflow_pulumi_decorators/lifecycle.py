"""Per-run stack names: the ``stack_name`` Jinja filter that turns any text into a valid stack name.

The operation vocabulary (names, options, the protected check, the summary) is in
:mod:`airflow_pulumi_decorators.operations`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from airflow_pulumi_decorators import names

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def stack_name_filter(value: Any) -> str:
    """Any text (a run id, a branch name) as a valid Pulumi stack name; a Jinja filter (``| stack_name``).

    ``feature/Login+SSO`` → ``feature-Login-SSO``; ``manual__2026-01-01T00:00:00+00:00`` →
    ``manual__2026-01-01T00-00-00-00-00``. Long names are shortened with a hash so two never collide.
    """
    text = _UNSAFE.sub("-", str(value)).strip("-.") or "stack"
    if len(text) > names.MAX_NAME_LENGTH:
        digest = hashlib.sha1(str(value).encode()).hexdigest()[:8]
        text = f"{text[: names.MAX_NAME_LENGTH - 9]}-{digest}"
    return text
