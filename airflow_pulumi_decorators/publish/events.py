"""The asset event of a successful ``up``: ``pulumi://<project>/<stack>`` through the task's alias outlet.

The event's extra carries the output *keys*, change counts and version, never output values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow_pulumi_decorators.assets import stack_alias, stack_asset, stack_uri

if TYPE_CHECKING:
    from airflow_pulumi_decorators.engine import OperationResult


def event_extra(project: str, result: OperationResult) -> dict[str, Any]:
    """What the asset event says about the update: keys and counts, never values (secrets stay out)."""
    return {
        "project": project,
        "stack": result.stack,
        "operation": result.operation,
        "version": result.version,
        "changes": dict(result.changes),
        "has_changes": result.has_changes,
        "output_keys": sorted(result.outputs),
        "secret_output_keys": sorted(k for k, v in result.outputs.items() if v.secret),
    }


def emit_stack_event(
    context: Any, project: str, result: OperationResult, *, log: Callable[[str], None] = lambda _: None
) -> None:
    """Attach the stack's asset event to the task's alias outlet (Airflow stores it when the task succeeds)."""
    extra = event_extra(project, result)
    context["outlet_events"][stack_alias(project)].add(stack_asset(project, result.stack), extra=extra)
    keys = ", ".join(extra["output_keys"]) or "-"
    log(f"pulumi: asset event {stack_uri(project, result.stack)} (output keys: {keys})")
