"""The asset events of a stack task: ``pulumi://<project>/<stack>`` after a successful ``up`` — on the stack
asset the task declared as an outlet when its stack was known at parse time, else through the task's alias
outlet — and ``pulumi-drift://<project>/<stack>`` after a drift check (through its alias). Exactly one event per
stack asset and run: never both ways.

An ``up`` event's extra carries the output *keys*, change counts and version, never output values; a drift
event's says whether the stack drifted, the change counts and which resources and properties, never values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow_pulumi_decorators.assets import drift_alias, drift_asset, drift_uri, stack_alias, stack_asset, stack_uri
from airflow_pulumi_decorators.engine.request import NO_CHANGE_OPS

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
    """Give the stack's asset event to the task's outlets (Airflow stores it when the task succeeds): the extra of
    the stack asset the task declared, when it is the one updated, else an event through the project's alias.

    :param context: the task's Airflow context (``outlet_events``; ``task``, whose declared outlets are read).
    :param project: the Pulumi project.
    :param result: what the ``up`` reported.
    :param log: writes one line to the task log.
    """
    extra = event_extra(project, result)
    asset = stack_asset(project, result.stack)
    task = context.get("task")
    declared = [o for o in getattr(task, "outlets", None) or () if _is_stack_asset(o, project)]
    # A mapped task's outlets are made when it runs (its operator is built from the expanded arguments), not
    # when the DAG is parsed: Airflow records no event for an asset only declared there, so the alias carries it.
    mapped = getattr(context.get("ti"), "map_index", -1) not in (-1, None)
    match = None if mapped else next((o for o in declared if o.uri == asset.uri), None)
    if match is not None:
        # Airflow records one event for each declared asset on success; this gives it our extra.
        context["outlet_events"][match].extra.update(extra)
    else:
        if declared:
            # Not the declared asset's event (a mapped task; or Pulumi Cloud qualified the stack's name with the
            # organization): drop it, so Airflow records no event (nor a warning) for it.
            task.outlets = [o for o in task.outlets if o not in declared]
        context["outlet_events"][stack_alias(project)].add(asset, extra=extra)
    keys = ", ".join(extra["output_keys"]) or "-"
    log(f"pulumi: asset event {stack_uri(project, result.stack)} (output keys: {keys})")


def _is_stack_asset(outlet: Any, project: str) -> bool:
    """Whether a declared outlet is a stack asset of ``project`` (what ``declared_stack_asset`` declares)."""
    uri = getattr(outlet, "uri", None)
    return type(outlet).__name__ == "Asset" and isinstance(uri, str) and uri.startswith(stack_uri(project, ""))


def drift_extra(project: str, result: OperationResult) -> dict[str, Any]:
    """What a drift event says: ``drift``, the change counts and each drifted resource with the paths of its
    changed properties (no values: the extra is shown in the UI and passed to the DAGs it triggers)."""
    return {
        "project": project,
        "stack": result.stack,
        "operation": result.operation,
        "drift": result.has_changes,
        "changes": {op: n for op, n in result.changes.items() if op not in NO_CHANGE_OPS and n},
        "resources": [
            {"op": s["op"], "type": s["type"], "name": s["name"], "urn": s["urn"],
             "properties": [entry["path"] for entry in s.get("diff") or ()]}
            for s in result.steps
        ],
    }


def emit_drift_event(
    context: Any, project: str, result: OperationResult, *, log: Callable[[str], None] = lambda _: None
) -> None:
    """Attach the stack's drift event to the task's drift alias outlet (stored when the task succeeds)."""
    extra = drift_extra(project, result)
    context["outlet_events"][drift_alias(project)].add(drift_asset(project, result.stack), extra=extra)
    found = ", ".join(f"{r['op']} {r['name']}" for r in extra["resources"]) or "none"
    log(f"pulumi: asset event {drift_uri(project, result.stack)} (drift: {str(extra['drift']).lower()}; {found})")
