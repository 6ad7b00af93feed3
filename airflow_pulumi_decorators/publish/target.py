"""The ``pulumi_target`` XCom: which stack a task works on, for the Pulumi view in Airflow's UI
(:mod:`airflow_pulumi_decorators.ui`), which reads only Airflow's metadata database.

Pushed when the engine starts — the view shows a *running* task that pushed it as the holder of the stack's
lock — and pushed again, completed, when the operation succeeded: the stack's resources (type and name, after
an ``up``) and which output keys are secret (their values are never in it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_pulumi_decorators.operations import TARGET_KEY
from airflow_pulumi_decorators.outputs import public_backend_url

if TYPE_CHECKING:
    from airflow_pulumi_decorators.engine import OperationRequest, OperationResult


def target(request: OperationRequest, *, environment: str) -> dict[str, Any]:
    """Where the task's operation runs: project, stack, backend (no credential in it), environment, operation.

    :param request: what the engine is asked.
    :param environment: the run's environment name.
    """
    backend = request.context.backend
    return {
        "project": request.project,
        "stack": request.stack,
        "backend": public_backend_url(backend.url if backend is not None else None),
        "environment": environment,
        "operation": request.operation,
    }


def announce(request: OperationRequest, *, environment: str, context: Mapping[str, Any]) -> None:
    """Push the task's target as its engine starts (the view's lock holder while the task runs).

    :param request: what the engine is asked.
    :param environment: the run's environment name.
    :param context: the task's Airflow context (its ``ti`` receives the XCom).
    """
    context["ti"].xcom_push(key=TARGET_KEY, value=target(request, environment=environment))


def complete(
    request: OperationRequest, result: OperationResult, *, environment: str, context: Mapping[str, Any]
) -> dict[str, Any]:
    """Push the target again with what the operation found: the stack's resources after an ``up`` (``None``
    for operations that do not tell them) and the names of its secret outputs.

    :param request: what the engine was asked.
    :param result: what it reported.
    :param environment: the run's environment name.
    :param context: the task's Airflow context.
    :return: the value pushed.
    """
    value = target(request, environment=environment)
    resources: list[dict[str, str]] | None = None
    if request.operation == "up":
        # Sorted: the real engine announces independent resources in a different order on every run.
        resources = sorted(({"type": r["type"], "name": r["name"]} for r in result.resources),
                           key=lambda r: (r["type"], r["name"]))
    elif request.operation == "destroy":
        resources = []
    value["resources"] = resources
    value["secret_output_keys"] = sorted(k for k, output in result.outputs.items() if output.secret)
    value["stack_removed"] = result.stack_removed
    context["ti"].xcom_push(key=TARGET_KEY, value=value)
    return value
