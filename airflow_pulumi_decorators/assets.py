"""Airflow asset events for stacks: ``pulumi://<project>/<stack>`` after each successful ``up``.

Other DAGs schedule on a stack's infrastructure changes with ``schedule=[stack_asset("network", "prod")]``.
The event's extra carries the output *keys*, change counts and version, never output values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Asset, AssetAlias

    from airflow_pulumi_decorators.engine import OperationResult


def stack_uri(project: str, stack: str) -> str:
    """The asset URI of a stack: ``pulumi://<project>/<stack>`` (``stack`` as the task names it)."""
    return f"pulumi://{project}/{stack}"


def stack_asset(project: str, stack: str) -> Asset:
    """The :class:`airflow.sdk.Asset` of a stack, for ``schedule=[...]`` of the DAGs that consume it."""
    from airflow.sdk import Asset

    return Asset(uri=stack_uri(project, stack), name=stack_uri(project, stack))


def stack_alias(project: str) -> AssetAlias:
    """The alias a project's ``up`` tasks declare as outlet; the concrete stack asset is attached at run time."""
    from airflow.sdk import AssetAlias

    return AssetAlias(name=f"pulumi-stacks:{project}")


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
