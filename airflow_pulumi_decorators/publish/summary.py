"""The summary every stack task pushes (its ``pulumi_summary`` XCom) and what a non-``up`` task returns."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from airflow_pulumi_decorators.engine import OperationResult


class Summary(TypedDict):
    """What an operation did: the ``pulumi_summary`` XCom of every stack task (see docs/operations.md)."""

    operation: str
    project: str
    stack: str
    environment: str
    backend: str
    changes: dict[str, int]
    has_changes: bool
    version: int | None
    duration_s: float
    attempts: int
    stack_removed: bool
    pending_operations: int
    policy_violations: list[dict[str, str]]
    message: str
    url: str | None


def summary(result: OperationResult, *, project: str, environment: str, backend: str, message: str,
            url: str | None) -> Summary:
    """The summary of one operation (no output values in it, so no secrets).

    :param result: what the engine reported.
    :param project: the Pulumi project.
    :param environment: the run's environment name.
    :param backend: the backend URL.
    :param message: the update message.
    :param url: the update in Pulumi Cloud, or ``None``.
    """
    return {
        "operation": result.operation,
        "project": project,
        "stack": result.stack,
        "environment": environment,
        "backend": backend,
        "changes": dict(result.changes),
        "has_changes": result.has_changes,
        "version": result.version,
        "duration_s": round(result.duration_s, 3),
        "attempts": result.attempts,
        "stack_removed": result.stack_removed,
        "pending_operations": len(result.pending_operations),
        "policy_violations": result.policy_violations,
        "message": message,
        "url": url,
    }


def summary_text(summary: Mapping[str, Any]) -> str:
    """The summary as the task log shows it: a headline, then one short line per field.

    The headline starts ``pulumi summary:`` (for log search) and names the operation and stack; each field
    follows on its own indented line, keys sorted, values as JSON (``changes: {"create": 1}``), so the log
    view needs no horizontal scrolling and a field is found with one search. A field without a value —
    ``version`` on a backend that numbers no updates, ``url`` off Pulumi Cloud — is left out, never shown
    as ``null``. No output values are in it, so no secrets.

    :param summary: the ``pulumi_summary`` XCom value.
    """
    head = f"pulumi summary: {summary.get('operation')} on stack {summary.get('stack')} (XCom pulumi_summary)"
    fields = [
        f"  {key}: {json.dumps(value, sort_keys=True, default=str)}"
        for key, value in sorted(summary.items())
        if value is not None
    ]
    return "\n".join([head, *fields])


def summary_return(result: OperationResult) -> dict[str, Any]:
    """The return value (XCom) of a ``preview``/``refresh``/``destroy`` task: the planned or made changes."""
    return {
        "changes": dict(result.changes),
        "has_changes": result.has_changes,
        "steps": list(result.steps),
        "stack": result.stack,
        "stack_removed": result.stack_removed,
    }
