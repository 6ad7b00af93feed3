"""The user's function bound to the run (its arguments, rendered, and the Airflow context keys it asks for),
the update message that says in the backend's history which Airflow run made an update, and the run's
Airflow record as the stack lock's holder note keeps it (:func:`task_ref`, :func:`task_states`)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping
from typing import Any

from airflow_pulumi_decorators.locks import TaskRef, TaskStates


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


def task_ref(ti: Any) -> TaskRef | None:
    """The running task instance and try, or ``None`` when ``ti`` does not say (not a task instance)."""
    try:
        map_index = getattr(ti, "map_index", -1)
        return TaskRef(
            dag_id=str(ti.dag_id), run_id=str(ti.run_id), task_id=str(ti.task_id),
            map_index=int(map_index) if map_index is not None else -1, try_number=int(ti.try_number),
        )
    except (AttributeError, TypeError, ValueError):
        return None


def task_states(ti: Any) -> TaskStates | None:
    """Asks Airflow, through what a task process may use (the Task SDK's ``get_task_states``, served by the
    execution API), for the state of another task instance; ``None`` when ``ti`` cannot ask."""
    ask = getattr(ti, "get_task_states", None)
    if not callable(ask):
        return None

    def state_of(ref: TaskRef) -> str | None:
        found = ask(dag_id=ref.dag_id, run_ids=[ref.run_id], task_ids=[ref.task_id],
                    map_index=ref.map_index if ref.map_index >= 0 else None)
        by_task = (found or {}).get(ref.run_id) or {}
        key = ref.task_id if ref.map_index < 0 else f"{ref.task_id}_{ref.map_index}"
        state = by_task.get(key)
        return None if state is None else str(getattr(state, "value", state))

    return state_of
