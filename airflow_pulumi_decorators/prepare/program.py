"""The user's function bound to the run (its arguments, rendered, and the Airflow context keys it asks for),
and the update message that says in the backend's history which Airflow run made an update."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping
from typing import Any


def bind_program(
    program: Callable[..., Any], op_args: Collection[Any], op_kwargs: Mapping[str, Any], context: Mapping[str, Any]
) -> Callable[[], Any]:
    """``program`` as a no-argument inline program: ``op_args``, ``op_kwargs`` and the context keys it names.

    :param program: the function that declares resources.
    :param op_args: its positional arguments (rendered).
    :param op_kwargs: its keyword arguments (rendered).
    :param context: the task's Airflow context (``params``, ``run_id`` …, for parameters named so).
    """
    from airflow_pulumi_decorators._airflow import determine_kwargs

    kwargs = determine_kwargs(program, op_args, {**context, **op_kwargs})
    return functools.wraps(program)(functools.partial(program, *op_args, **kwargs))


def update_message(ti: Any, *, environment: str, operation: str, principal: str | None) -> str:
    """``airflow: dag_id=… run_id=… [map_index=…] task_id=… try=… environment=… operation=… identity=…``.

    :param ti: the running task instance.
    :param environment: the run's environment name.
    :param operation: the task's operation.
    :param principal: the account the engine acts as, or ``None`` for the worker's own.
    """
    parts = [
        f"dag_id={ti.dag_id}",
        f"run_id={ti.run_id}",
        f"task_id={ti.task_id}",
        f"try={ti.try_number}",
        f"environment={environment}",
        f"operation={operation}",
    ]
    if getattr(ti, "map_index", -1) not in (-1, None):
        parts.insert(3, f"map_index={ti.map_index}")
    parts.append(f"identity={principal or 'worker-default'}")
    return "airflow: " + " ".join(parts)
