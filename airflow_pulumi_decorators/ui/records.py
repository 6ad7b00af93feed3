"""Reading Airflow's metadata database for the Pulumi view: our tasks' XComs with their task instances, and
the stacks' asset events — only from the DAGs given (those the user may read). Nothing else is read: no
backend, no connection, no variable.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from airflow_pulumi_decorators._airflow import metadata_models as _models
from airflow_pulumi_decorators.operations import SUMMARY_KEY, TARGET_KEY
from airflow_pulumi_decorators.ui.views import EventRecord, TaskRecord

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: The newest task instances read per request (the view is about recent state; older ones drop off).
MAX_TASKS = 2000
_TiKey = tuple[str, str, str, int]


def _xcom_value(row: Any) -> Any:
    XComModel = _models().XComModel  # noqa: N806 - a class

    return XComModel.deserialize_value(row)


def task_records(session: Session, dag_ids: Collection[str], *, ti: _TiKey | None = None) -> list[TaskRecord]:
    """The stack task instances of ``dag_ids`` (newest :data:`MAX_TASKS`), or the one task instance ``ti``.

    :param session: a metadata database session.
    :param dag_ids: the DAGs the user may read.
    :param ti: ``(dag_id, run_id, task_id, map_index)`` to read one task instance only.
    """
    models = _models()
    TaskInstance, XComModel = models.TaskInstance, models.XComModel  # noqa: N806 - classes
    from sqlalchemy import select

    if not dag_ids:
        return []
    query = select(XComModel).where(XComModel.key.in_((SUMMARY_KEY, TARGET_KEY)), XComModel.dag_id.in_(dag_ids))
    if ti is not None:
        query = query.where(XComModel.dag_id == ti[0], XComModel.run_id == ti[1], XComModel.task_id == ti[2],
                            XComModel.map_index == ti[3])
    query = query.order_by(XComModel.timestamp.desc()).limit(MAX_TASKS * 2)
    pushed: dict[_TiKey, dict[str, Any]] = {}
    for row in session.scalars(query):
        pushed.setdefault((row.dag_id, row.run_id, row.task_id, row.map_index), {})[row.key] = _xcom_value(row)
    if not pushed:
        return []
    states = {}
    tis = select(TaskInstance.dag_id, TaskInstance.run_id, TaskInstance.task_id, TaskInstance.map_index,
                 TaskInstance.state, TaskInstance.start_date, TaskInstance.end_date).where(
        TaskInstance.dag_id.in_({k[0] for k in pushed}), TaskInstance.run_id.in_({k[1] for k in pushed}),
        TaskInstance.task_id.in_({k[2] for k in pushed}))
    for dag_id, run_id, task_id, map_index, state, start, end in session.execute(tis):
        states[(dag_id, run_id, task_id, map_index)] = (state, start, end)
    records = []
    for key, values in pushed.items():
        state, start, end = states.get(key, (None, None, None))
        records.append(TaskRecord(
            dag_id=key[0], run_id=key[1], task_id=key[2], map_index=key[3],
            state=str(getattr(state, "value", state)) if state is not None else None, start_date=start, end_date=end,
            target=_mapping(values.get(TARGET_KEY)), summary=_mapping(values.get(SUMMARY_KEY)),
        ))
    return records[:MAX_TASKS]


def _mapping(value: Any) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, dict) else None


def return_value(session: Session, record: TaskRecord) -> Any:
    """The task instance's ``return_value`` XCom (``None`` when it pushed none)."""
    XComModel = _models().XComModel  # noqa: N806 - a class
    from sqlalchemy import select

    row = session.scalars(select(XComModel).where(
        XComModel.dag_id == record.dag_id, XComModel.run_id == record.run_id,
        XComModel.task_id == record.task_id, XComModel.map_index == record.map_index,
        XComModel.key == "return_value",
    )).first()
    return _xcom_value(row) if row is not None else None


def event_records(session: Session, dag_ids: Collection[str], *, ti: _TiKey | None = None) -> list[EventRecord]:
    """The ``pulumi://`` and ``pulumi-drift://`` asset events that tasks of ``dag_ids`` emitted (newest first),
    or those of the one task instance ``ti``.

    :param session: a metadata database session.
    :param dag_ids: the DAGs the user may read.
    :param ti: ``(dag_id, run_id, task_id, map_index)`` to read one task instance's events only.
    """
    models = _models()
    AssetEvent, AssetModel = models.AssetEvent, models.AssetModel  # noqa: N806 - classes
    from sqlalchemy import or_, select

    if not dag_ids:
        return []
    query = (
        select(AssetEvent, AssetModel.uri)
        .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
        .where(or_(AssetModel.uri.startswith("pulumi://"), AssetModel.uri.startswith("pulumi-drift://")),
               AssetEvent.source_dag_id.in_(dag_ids))
    )
    if ti is not None:
        query = query.where(AssetEvent.source_dag_id == ti[0], AssetEvent.source_run_id == ti[1],
                            AssetEvent.source_task_id == ti[2], AssetEvent.source_map_index == ti[3])
    query = query.order_by(AssetEvent.timestamp.desc()).limit(MAX_TASKS)
    return [
        EventRecord(uri=uri, timestamp=event.timestamp, extra=dict(event.extra or {}), dag_id=event.source_dag_id,
                    run_id=event.source_run_id, task_id=event.source_task_id,
                    map_index=event.source_map_index if event.source_map_index is not None else -1)
        for event, uri in session.execute(query)
    ]
