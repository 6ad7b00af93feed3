"""Answer an Airflow Human-in-the-loop request from a test, the way the UI's "Required actions" does.

``dag.test()`` parks an ``ApprovalOperator`` in ``awaiting_input`` and keeps polling the metadata
database; :func:`respond` (usually from a thread started before ``dag.test()``) waits for the request and
records the answer through the same model and resume path as Airflow's HITL REST endpoint.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any


def _imports() -> tuple[Any, ...]:
    # dag.test() imports and configures Airflow's models lazily; doing that in two threads at once
    # deadlocks (import locks vs SQLAlchemy's mapper configuration), so do all of it here first.
    import airflow.dag_processing.dagbag
    import airflow.models.dagrun
    import airflow.serialization.serialized_objects  # noqa: F401
    from airflow.models import import_all_models
    from sqlalchemy.orm import configure_mappers

    import_all_models()
    configure_mappers()
    from airflow._shared.timezones import timezone
    from airflow.models.hitl import HITLDetail, HITLUser
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import handle_event_submit
    from airflow.triggers.base import TriggerEvent
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    return (timezone, HITLDetail, HITLUser, TaskInstance, handle_event_submit, TriggerEvent, create_session,
            TaskInstanceState)


def respond(
    dag_id: str,
    task_id: str,
    chosen: str | Sequence[str],
    *,
    user: str = "approver",
    timeout: float = 120.0,
    params_input: dict[str, Any] | None = None,
    before: Callable[[], None] | None = None,
) -> None:
    """Wait for the task's HITL request, then answer it with ``chosen`` (e.g. ``"Approve"`` / ``"Reject"``).

    :param dag_id: the DAG.
    :param task_id: the HITL task.
    :param chosen: the option(s) picked.
    :param user: recorded as the responder.
    :param timeout: seconds to wait for the request to appear.
    :param before: called once the request is there, before it is answered (a test changes something between
        the preview and the approval).
    :raises TimeoutError: no request appeared in time, or none could be answered (the last error is named).
    """
    timezone, HITLDetail, HITLUser, TaskInstance, handle_event_submit, TriggerEvent, create_session, \
        TaskInstanceState = _imports()

    options = [chosen] if isinstance(chosen, str) else list(chosen)
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        # dag.test() writes the same database all the while (SQLite: "database is locked"); a failed
        # look or answer is tried again, never left to end this thread and park the run for ever.
        try:
            with create_session() as session:
                ti = (
                    session.query(TaskInstance)
                    .filter(TaskInstance.dag_id == dag_id, TaskInstance.task_id == task_id,
                            TaskInstance.state == TaskInstanceState.AWAITING_INPUT)
                    .first()
                )
                detail = session.query(HITLDetail).filter(HITLDetail.ti_id == ti.id).first() if ti else None
                if ti is not None and detail is not None and before is not None:
                    before()
                    before = None
                    continue  # answer in a new session, after what ``before`` changed
                if ti is not None and detail is not None:
                    detail.responded_by = HITLUser(id=user, name=user)
                    detail.responded_at = timezone.utcnow()
                    detail.chosen_options = options
                    detail.params_input = params_input or {}
                    session.add(detail)
                    event = TriggerEvent(detail.as_resume_event_payload())
                    handle_event_submit(event, task_instance=ti, session=session)
                    return
        except Exception as error:  # noqa: BLE001 - retried until the deadline, then reported
            last_error = error
        time.sleep(0.2)
    raise TimeoutError(f"no Human-in-the-loop request from {dag_id}.{task_id} within {timeout:.0f}s"
                       + (f" could be answered (last error: {last_error!r})" if last_error else ""))


def respond_in_background(dag_id: str, task_id: str, chosen: str | Sequence[str], **kwargs: Any) -> threading.Thread:
    """Start :func:`respond` in a daemon thread (start it before ``dag.test()``); join it afterwards."""
    _imports()  # import here, not in the thread: a thread importing Airflow next to dag.test() can deadlock
    thread = threading.Thread(target=respond, args=(dag_id, task_id, chosen), kwargs=kwargs, daemon=True)
    thread.start()
    return thread
