"""What the Pulumi view shows, assembled from plain records of Airflow's metadata database (read by
:mod:`.records`): the stacks index, a stack's page, a stack task's page. Plain functions over plain data, so
every rule — above all that a secret output's value is never shown — is tested without a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_pulumi_decorators.assets import drift_uri, stack_uri
from airflow_pulumi_decorators.outputs import is_secret_reference, is_withheld_output, public_backend_url
from airflow_pulumi_decorators.publish.diffs import diff_lines
from airflow_pulumi_decorators.ui.urls import airflow_task_path, stack_path, task_path

#: What a secret output shows instead of its value.
WITHHELD = "withheld"
#: The task instance states in which a stack task may hold the stack's lock.
HOLDING_STATES = frozenset({"running"})


@dataclass(frozen=True)
class TaskRecord:
    """One task instance of a stack task: its state and the XComs it pushed (``pulumi_target``,
    ``pulumi_summary``)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: str | None
    start_date: datetime | None = None
    end_date: datetime | None = None
    target: Mapping[str, Any] | None = None
    summary: Mapping[str, Any] | None = None

    def _field(self, name: str) -> Any:
        for source in (self.summary, self.target):
            if source and source.get(name) is not None:
                return source[name]
        return None

    @property
    def key(self) -> tuple[str, str]:
        """``(project, stack)``."""
        return str(self._field("project") or ""), str(self._field("stack") or "")

    @property
    def operation(self) -> str:
        return str(self._field("operation") or "")

    @property
    def backend(self) -> str | None:
        return public_backend_url(self._field("backend"))

    @property
    def when(self) -> datetime | None:
        return self.end_date or self.start_date

    @property
    def holds_lock(self) -> bool:
        """The task is running its operation (it pushed its target at engine start, no summary yet)."""
        return self.state in HOLDING_STATES and self.target is not None and self.summary is None

    def ref(self) -> dict[str, Any]:
        """The task instance, with the paths of its Pulumi page and its page in Airflow."""
        return {
            "dag_id": self.dag_id, "run_id": self.run_id, "task_id": self.task_id, "map_index": self.map_index,
            "state": self.state, "start_date": _iso(self.start_date), "end_date": _iso(self.end_date),
            "pulumi_path": task_path(self.dag_id, self.run_id, self.task_id, self.map_index),
            "airflow_path": airflow_task_path(self.dag_id, self.run_id, self.task_id, self.map_index),
        }


@dataclass(frozen=True)
class EventRecord:
    """One asset event of a stack (``pulumi://``) or of its drift checks (``pulumi-drift://``)."""

    uri: str
    timestamp: datetime | None
    extra: Mapping[str, Any] = field(default_factory=dict)
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    map_index: int = -1

    @property
    def kind(self) -> str:
        """``stack`` or ``drift``."""
        return "drift" if self.uri.startswith("pulumi-drift://") else "stack"

    @property
    def key(self) -> tuple[str, str]:
        """``(project, stack)`` from the URI (a project has no ``/``; a stack may have)."""
        rest = self.uri.split("://", 1)[1]
        project, _, stack = rest.partition("/")
        return project, stack


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _latest(items: Iterable[Any], when: Any) -> Any:
    ordered = sorted(items, key=lambda i: (when(i) is not None, when(i) or datetime.min))
    return ordered[-1] if ordered else None


def secret_keys(*sources: Iterable[str] | None) -> set[str]:
    """The output keys any source names as secret."""
    return {str(k) for source in sources if source for k in source}


def outputs_view(value: Any, secret: Iterable[str]) -> list[dict[str, Any]]:
    """A task's outputs XCom as rows, each ``{"key", "value", "withheld"}``: a secret output's value (and a
    reference to one, and the marker the task pushed for a withheld one) is replaced by :data:`WITHHELD`.

    :param value: the ``return_value`` XCom of an ``up`` task (a dict of outputs).
    :param secret: the keys of the stack's secret outputs.
    """
    if not isinstance(value, Mapping):
        return []
    secret = set(secret)
    rows = []
    for key in sorted(value, key=str):
        item = value[key]
        # The task's own marker of a withheld output, or a reference, says so even without the secret keys.
        withheld = key in secret or is_withheld_output(item) or is_secret_reference(item)
        rows.append({"key": str(key), "value": WITHHELD if withheld else item, "withheld": withheld})
    return rows


def _drift(event: EventRecord | None) -> dict[str, Any] | None:
    if event is None:
        return None
    extra = event.extra or {}
    return {
        "drift": bool(extra.get("drift")), "when": _iso(event.timestamp),
        "changes": dict(extra.get("changes") or {}),
        "resources": [
            {"op": r.get("op"), "type": r.get("type"), "name": r.get("name"),
             "properties": list(r.get("properties") or ())}
            for r in extra.get("resources") or () if isinstance(r, Mapping)
        ],
        "task": {"dag_id": event.dag_id, "run_id": event.run_id, "task_id": event.task_id},
    }


def _resources(records: Sequence[TaskRecord]) -> list[dict[str, str]] | None:
    """The resources the latest ``up`` or ``destroy`` left (``None``: no finished task told them)."""
    told = [r for r in records if r.summary is not None and r.target and r.target.get("resources") is not None]
    latest = _latest(told, lambda r: r.when)
    if latest is None:
        return None
    return [{"type": str(x.get("type")), "name": str(x.get("name"))} for x in latest.target["resources"]]


def _history_row(record: TaskRecord, drift_checks: set[tuple[Any, ...]]) -> dict[str, Any]:
    summary = record.summary or {}
    checked = (record.dag_id, record.run_id, record.task_id, record.map_index) in drift_checks
    return {
        "operation": record.operation, "label": "drift check" if checked else record.operation,
        "when": _iso(record.when), "state": record.state,
        "changes": dict(summary.get("changes") or {}), "has_changes": summary.get("has_changes"),
        "version": summary.get("version"), "duration_s": summary.get("duration_s"),
        "environment": summary.get("environment") or (record.target or {}).get("environment"),
        "task": record.ref(),
    }


def _group(records: Iterable[TaskRecord], events: Iterable[EventRecord]) -> dict[tuple[str, str], Any]:
    stacks: dict[tuple[str, str], dict[str, list[Any]]] = {}
    for record in records:
        if all(record.key):
            stacks.setdefault(record.key, {"records": [], "events": []})["records"].append(record)
    for event in events:
        if all(event.key):
            stacks.setdefault(event.key, {"records": [], "events": []})["events"].append(event)
    return stacks


def _stack_row(key: tuple[str, str], records: Sequence[TaskRecord], events: Sequence[EventRecord]) -> dict[str, Any]:
    project, stack = key
    finished = [r for r in records if r.summary is not None]
    last = _latest(finished or records, lambda r: r.when)
    last_event = _latest([e for e in events if e.kind == "stack"], lambda e: e.timestamp)
    last_operation = None
    if last is not None:
        last_operation = {"operation": last.operation, "when": _iso(last.when), "state": last.state,
                          "task": last.ref()}
    elif last_event is not None:
        last_operation = {"operation": str(last_event.extra.get("operation") or "up"),
                          "when": _iso(last_event.timestamp), "state": None, "task": None}
    backends = [r for r in records if r.backend]
    backend = _latest(backends, lambda r: r.when)
    resources = _resources(records)
    holders = [r for r in records if r.holds_lock]
    return {
        "project": project, "stack": stack,
        "backend": backend.backend if backend is not None else None,
        "last_operation": last_operation,
        "resource_count": len(resources) if resources is not None else None,
        "locked": bool(holders),
        "lock_holders": [h.ref() for h in holders],
        "drift": _drift(_latest([e for e in events if e.kind == "drift"], lambda e: e.timestamp)),
        "path": stack_path(project, stack),
        "asset_uri": stack_uri(project, stack), "drift_uri": drift_uri(project, stack),
    }


def stacks_index(records: Iterable[TaskRecord], events: Iterable[EventRecord]) -> list[dict[str, Any]]:
    """Every project/stack the records and events touch, sorted by project and stack: backend, last operation
    and when, resource count, whether a running task holds its lock, the last drift check.

    :param records: the stack task instances the user may read.
    :param events: the stacks' asset events from DAGs the user may read.
    """
    return [_stack_row(key, group["records"], group["events"])
            for key, group in sorted(_group(records, events).items())]


def stack_detail(
    project: str, stack: str, records: Iterable[TaskRecord], events: Iterable[EventRecord],
    outputs: Any = None, outputs_record: TaskRecord | None = None,
) -> dict[str, Any] | None:
    """One stack's page: the :func:`stacks_index` row plus its outputs (secrets withheld), update history
    (newest first) and resources with their types; ``None`` when nothing the user may read touched it.

    :param project: the Pulumi project.
    :param stack: the stack.
    :param records: the stack task instances the user may read (any stack: this one's are picked).
    :param events: the stacks' asset events from DAGs the user may read.
    :param outputs: the ``return_value`` XCom of ``outputs_record``.
    :param outputs_record: the latest successful ``up`` of the stack (see :func:`latest_up`).
    """
    group = _group(records, events).get((project, stack))
    if group is None:
        return None
    mine, my_events = group["records"], group["events"]
    row = _stack_row((project, stack), mine, my_events)
    history = sorted(mine, key=lambda r: (r.when is not None, r.when or datetime.min), reverse=True)
    # A task that emitted a drift event is a drift check (a preview with refresh, as its summary says).
    drift_checks = {(e.dag_id, e.run_id, e.task_id, e.map_index) for e in my_events if e.kind == "drift"}
    row["history"] = [_history_row(r, drift_checks) for r in history]
    row["resources"] = _resources(mine)
    row["outputs"] = []
    row["outputs_from"] = None
    if outputs_record is not None:
        up_events = [e for e in my_events if e.kind == "stack" and e.task_id == outputs_record.task_id
                     and e.run_id == outputs_record.run_id and e.dag_id == outputs_record.dag_id]
        secret = secret_keys((outputs_record.target or {}).get("secret_output_keys"),
                             *(e.extra.get("secret_output_keys") for e in up_events))
        row["outputs"] = outputs_view(outputs, secret)
        row["outputs_from"] = outputs_record.ref()
    return row


def latest_up(project: str, stack: str, records: Iterable[TaskRecord]) -> TaskRecord | None:
    """The stack's latest successful ``up`` (whose ``return_value`` holds the outputs)."""
    ups = [r for r in records if r.key == (project, stack) and r.operation == "up" and r.summary is not None
           and r.state == "success"]
    latest: TaskRecord | None = _latest(ups, lambda r: r.when)
    return latest


def task_detail(record: TaskRecord, value: Any, events: Iterable[EventRecord] = ()) -> dict[str, Any]:
    """One stack task's page: operation, summary, a ``preview``/``refresh``/``destroy``'s steps with their
    property diffs (values as the engine reported them: secrets blinded), an ``up``'s outputs (secrets withheld).

    :param record: the task instance.
    :param value: its ``return_value`` XCom.
    :param events: its asset events (an ``up`` event names the secret output keys).
    """
    project, stack = record.key
    detail: dict[str, Any] = {
        "task": record.ref(), "project": project, "stack": stack, "operation": record.operation,
        "backend": record.backend, "environment": (record.summary or record.target or {}).get("environment"),
        "summary": _public_summary(record.summary), "holds_lock": record.holds_lock,
        "stack_path": stack_path(project, stack) if project and stack else None,
        "steps": [], "diff": [], "outputs": [],
    }
    if record.operation == "up":
        secret = secret_keys((record.target or {}).get("secret_output_keys"),
                             *(e.extra.get("secret_output_keys") for e in events if e.kind == "stack"))
        detail["outputs"] = outputs_view(value, secret) if record.summary is not None else []
    elif isinstance(value, Mapping) and isinstance(value.get("steps"), list):
        steps = [s for s in value["steps"] if isinstance(s, Mapping)]
        detail["steps"] = [{"op": s.get("op"), "type": s.get("type"), "name": s.get("name"),
                            "diff": list(s.get("diff") or ())} for s in steps]
        detail["diff"] = diff_lines([dict(s) for s in steps if "op" in s and "type" in s and "name" in s])
    return detail


def _public_summary(summary: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The summary as shown: its backend without what could be a credential (it holds no output values)."""
    if summary is None:
        return None
    shown = dict(summary)
    if "backend" in shown:
        shown["backend"] = public_backend_url(shown["backend"]) or shown["backend"]
    return shown
