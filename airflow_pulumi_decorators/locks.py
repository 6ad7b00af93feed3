"""Who holds a stack's lock, and whether that holder is gone.

Pulumi's lock errors name the holder only as ``user@host (pid N)``; a DAG author wants to know which
Airflow run that is. For ``file://`` backends we therefore leave a small *holder note* next to Pulumi's
state while an operation runs: the update message (dag, run, task, try), the host, and the pids that can
take the lock (the task process itself, and each ``pulumi`` process it runs). Another run that finds the
stack locked reads the notes back and names the run whose note has the lock's host and pid; a note that
does not match the lock never names it. Notes of holders that are gone (a hard kill) are removed by the
next run on the stack, once no lock of theirs is left.

Whether a holder is gone is judged two ways: on the holder's own host, by its pids; on any host, by Airflow's
record of the task instance the note names (:func:`judge_by_airflow`) — a worker that died never comes back to
release its lock, and a Kubernetes pod returns with a new hostname, so only Airflow can tell. No Pulumi or
Airflow import here.
"""

from __future__ import annotations

import contextlib
import datetime
import glob
import json
import os
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from airflow_pulumi_decorators.backend_url import BackendUrl

# Pulumi diy backend: "  <path>: created by USER@HOST (pid N) at TIME"
_LOCK_LINE = re.compile(r"created by (?P<user>[^@\s]*)@(?P<host>\S*) \(pid (?P<pid>\d+|\?)\) at (?P<time>\S+)")


def process_gone(host: str | None, pid: int | None) -> bool:
    """True when ``pid`` ran on this host (``host``) and no longer runs, or is a zombie (killed, not reaped).

    A process on another host, or one we may not signal, is never called gone.
    """
    if pid is None or pid <= 0 or not host or host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


@dataclass(frozen=True)
class TaskRef:
    """One try of one Airflow task instance: what a holder note records of the run that took a lock.

    :param dag_id: the DAG.
    :param run_id: the DAG run.
    :param task_id: the task.
    :param map_index: the map index (``-1`` for an unmapped task).
    :param try_number: the try.
    """

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1
    try_number: int = 1

    def same_instance(self, other: TaskRef) -> bool:
        """Whether ``other`` is a try of the same task instance."""
        return (self.dag_id, self.run_id, self.task_id, self.map_index) == (
            other.dag_id, other.run_id, other.task_id, other.map_index)

    def describe(self) -> str:
        mapped = f" map_index={self.map_index}" if self.map_index >= 0 else ""
        return f"dag_id={self.dag_id} run_id={self.run_id} task_id={self.task_id}{mapped} try={self.try_number}"

    def to_json(self) -> dict[str, Any]:
        return {"dag_id": self.dag_id, "run_id": self.run_id, "task_id": self.task_id,
                "map_index": self.map_index, "try_number": self.try_number}

    @classmethod
    def from_json(cls, data: Any) -> TaskRef | None:
        """The reference a note recorded, or ``None`` when it recorded none (or not in this shape)."""
        if not isinstance(data, dict):
            return None
        try:
            texts = [data["dag_id"], data["run_id"], data["task_id"]]
            numbers = [data.get("map_index", -1), data.get("try_number", 1)]
        except KeyError:
            return None
        if not all(isinstance(t, str) for t in texts) or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in numbers
        ):
            return None
        return cls(*texts, *numbers)


#: Asks Airflow for the state of a task instance (``None``: Airflow has no such task instance); raising means
#: Airflow could not be asked, and then nothing is judged.
TaskStates = Callable[[TaskRef], str | None]

#: States in which a task instance may still be running a try (so its lock may be live).
_MAY_RUN = frozenset({"running", "queued", "scheduled", "restarting", "deferred", "up_for_reschedule"})


@dataclass(frozen=True)
class LockHolder:
    """The holder of a stack lock, as far as the backend and our note tell.

    :param user: the OS user that took the lock.
    :param host: the host it was taken on.
    :param pid: the process id of the CLI (or worker) that holds it.
    :param since: when it was taken (ISO text as the backend wrote it).
    :param airflow: the Airflow update message of the holder (``dag_id=… run_id=… task_id=… try=…``).
    :param task: the holder's task instance and try, from its note.
    :param ended: why Airflow's record says the holder's try no longer runs (:func:`judge_by_airflow`).
    """

    user: str | None = None
    host: str | None = None
    pid: int | None = None
    since: str | None = None
    airflow: str | None = None
    task: TaskRef | None = None
    ended: str | None = None

    @property
    def stale(self) -> bool:
        """True when nothing will release the lock: Airflow says the holder's try ended, or the lock was taken
        on this host by a process that no longer runs (a hard kill)."""
        return self.ended is not None or process_gone(self.host, self.pid)

    def describe(self) -> str:
        parts = []
        if self.airflow:
            parts.append(f"Airflow {self.airflow}")
        if self.user or self.host:
            parts.append(f"{self.user or '?'}@{self.host or '?'} (pid {self.pid if self.pid is not None else '?'})")
        if self.since:
            parts.append(f"since {self.since}")
        text = ", ".join(parts) or "an unknown holder (the backend does not say)"
        if self.ended is not None:
            text += f"; {self.ended}, so the lock is stale"
        elif self.stale:
            text += "; that process is no longer running (killed?), so the lock is stale"
        return text


def judge_by_airflow(holder: LockHolder, current: TaskRef | None, states: TaskStates | None) -> LockHolder:
    """The holder, with :attr:`LockHolder.ended` set when Airflow's record says its try no longer runs.

    Airflow runs one try of a task instance at a time, so a later try of the holder's own task instance means
    the holder's try is over (its worker died: the retry is asking). Otherwise Airflow is asked for the state
    of the holder's task instance; one that is not queued or running (failed, up for retry, success …) cannot
    be holding the lock. Anything uncertain judges nothing: a task instance Airflow does not know (a run of
    another deployment, or of ``airflow dags test``, on the same backend), or a question Airflow did not answer.

    :param holder: the holder, with the task its note recorded (:func:`with_airflow_holder`).
    :param current: the task instance and try asking.
    :param states: asks Airflow for a task instance's state; ``None`` when Airflow cannot be asked.
    """
    task = holder.task
    if task is None or holder.ended is not None:
        return holder
    if current is not None and current.same_instance(task):
        if current.try_number > task.try_number:
            return replace(holder, ended=(
                f"Airflow runs try {current.try_number} of that task instance now (try {task.try_number} ended)"
            ))
        return holder
    if states is None:
        return holder
    try:
        state = states(task)
    except Exception:  # noqa: BLE001 - Airflow could not be asked: judge nothing
        return holder
    if state is None or str(state) in _MAY_RUN:
        # A task instance this Airflow does not know may run elsewhere (`airflow dags test` on a laptop,
        # another deployment on the same backend): never cancel what cannot be judged.
        return holder
    return replace(holder, ended=f"Airflow says that task instance is {state}, no longer running")


def _is_zombie(pid: int) -> bool:
    """A killed process that nobody reaped (its parent died too, and PID 1 in a container often reaps
    nothing) still answers ``kill(pid, 0)``; Linux shows it as state ``Z``."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def parse_lock_holder(text: str) -> LockHolder:
    """Read the holder from Pulumi's locked-stack error text (diy backends); empty for Pulumi Cloud's 409."""
    match = _LOCK_LINE.search(text or "")
    if not match:
        return LockHolder()
    pid = match.group("pid")
    return LockHolder(
        user=match.group("user") or None,
        host=match.group("host") or None,
        pid=int(pid) if pid.isdigit() else None,
        since=match.group("time"),
    )


def _note_dir(backend: BackendUrl | None, project: str, stack: str) -> str | None:
    root = backend.local_path if backend is not None else None
    if not root:
        return None
    return os.path.join(root, ".pulumi", "airflow-holders", project, stack.replace("/", "__"))


class HolderNote:
    """The note of one run: which Airflow task runs on the stack, on which host, and the pids that can
    hold the stack lock. The engine adds each ``pulumi`` process it starts (:meth:`add_pid`) and drops it
    when it ended (:meth:`drop_pid`); every change rewrites the note atomically. A note that cannot be
    written never fails the operation.

    :param path: the note's file, or ``None`` (not a ``file://`` backend: nothing is written).
    :param message: the run's update message (``airflow: dag_id=… run_id=… task_id=… try=…``).
    :param task: the run's task instance and try, for another worker to ask Airflow about.
    """

    def __init__(self, path: str | None, message: str, task: TaskRef | None = None) -> None:
        self.path = path
        self.message = message
        self.task = task
        self.host = socket.gethostname()
        self.pids = [os.getpid()]  # an in-process engine takes the lock as the task process
        self._lock = threading.Lock()

    def add_pid(self, pid: int) -> None:
        """Name ``pid`` (a ``pulumi`` process the run started) as one that can hold the lock."""
        with self._lock:
            if pid not in self.pids:
                self.pids.append(pid)
                self._write()

    def drop_pid(self, pid: int) -> None:
        """``pid`` ended: it holds no lock any more (the task process itself is never dropped)."""
        with self._lock:
            if pid in self.pids[1:]:
                self.pids.remove(pid)
                self._write()

    def _write(self) -> None:
        if self.path is None:
            return
        try:
            with open(f"{self.path}.tmp", "w", encoding="utf-8") as handle:
                json.dump({"message": self.message, "host": self.host, "pids": self.pids, "pid": self.pids[0],
                           "task": self.task.to_json() if self.task is not None else None,
                           "time": datetime.datetime.now(datetime.timezone.utc).isoformat()}, handle)
            os.replace(f"{self.path}.tmp", self.path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(f"{self.path}.tmp")

    def _remove(self) -> None:
        with self._lock:
            if self.path is not None:
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
                self.path = None


@contextlib.contextmanager
def holder_note(
    backend: BackendUrl | None, project: str, stack: str, message: str, task: TaskRef | None = None
) -> Iterator[HolderNote]:
    """Leave a note saying which Airflow task runs on the stack, for the duration of the block.

    One file per writer (a hard-killed run's note stays, so the next run can name it, until its lock is
    gone); only for ``file://`` backends. Writing it first removes the notes of gone holders.
    """
    directory = _note_dir(backend, project, stack)
    path = None
    if directory is not None:
        try:
            os.makedirs(directory, exist_ok=True)
            path = os.path.join(directory, f"{os.getpid()}-{uuid.uuid4().hex[:8]}.json")
        except OSError:
            path = None
        else:
            _sweep(directory, backend)
    note = HolderNote(path, message, task)
    with note._lock:
        note._write()
    try:
        yield note
    finally:
        note._remove()


def _pids(note: dict[str, Any]) -> list[int]:
    """The pids a note names (``pids``; a note of an older version has only ``pid``)."""
    found = note.get("pids")
    if not isinstance(found, list):
        found = [note.get("pid")]
    return [pid for pid in found if isinstance(pid, int) and not isinstance(pid, bool)]


def _read_notes(directory: str) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return
    for name in names:
        if not name.endswith(".json"):
            continue
        path = os.path.join(directory, name)
        try:
            with open(path, encoding="utf-8") as handle:
                note = json.load(handle)
        except (OSError, ValueError):
            continue
        if isinstance(note, dict):
            yield path, note


def _lock_owners(backend: BackendUrl | None) -> set[tuple[str, int]]:
    """``(host, pid)`` of every lock file in the backend (``.pulumi/locks/**/*.json``)."""
    root = backend.local_path if backend is not None else None
    owners: set[tuple[str, int]] = set()
    if not root:
        return owners
    for path in glob.glob(os.path.join(glob.escape(root), ".pulumi", "locks", "**", "*.json"), recursive=True):
        try:
            with open(path, encoding="utf-8") as handle:
                lock = json.load(handle)
            owners.add((str(lock["hostname"]), int(lock["pid"])))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return owners


def _sweep(directory: str, backend: BackendUrl | None) -> None:
    """Remove the notes of gone holders: written on this host, every pid gone, and no lock of theirs left
    (while the lock stays, its note still names the run that left it)."""
    owners: set[tuple[str, int]] | None = None
    for path, note in _read_notes(directory):
        host, pids = note.get("host"), _pids(note)
        if not isinstance(host, str) or not pids or not all(process_gone(host, pid) for pid in pids):
            continue
        if owners is None:
            owners = _lock_owners(backend)
        if any((host, pid) in owners for pid in pids):
            continue
        with contextlib.suppress(OSError):
            os.unlink(path)


def with_airflow_holder(holder: LockHolder, backend: BackendUrl | None, project: str, stack: str) -> LockHolder:
    """Add the Airflow run whose holder note has the lock's host and pid, when exactly one run's does.

    Reading the notes first removes those of gone holders (:func:`holder_note`).
    """
    directory = _note_dir(backend, project, stack)
    if directory is None or not os.path.isdir(directory):
        return holder
    _sweep(directory, backend)
    if not holder.host or holder.pid is None:
        return holder  # nothing to match a note against
    matching = {
        (str(note.get("message") or ""), TaskRef.from_json(note.get("task")))
        for _, note in _read_notes(directory)
        if note.get("host") == holder.host and holder.pid in _pids(note)
    }
    if len(matching) != 1:
        return holder  # no note of the holder (or, in one process, several runs: cannot tell which)
    message, task = matching.pop()
    if not message:
        return holder
    return replace(holder, airflow=message.removeprefix("airflow: "), task=task)


def forget_holder(holder: LockHolder, backend: BackendUrl | None, project: str, stack: str) -> None:
    """Remove the notes naming ``holder``'s host and pid (its lock was cancelled: the note names nobody now)."""
    directory = _note_dir(backend, project, stack)
    if directory is None or not holder.host or holder.pid is None:
        return
    for path, note in _read_notes(directory):
        if note.get("host") == holder.host and holder.pid in _pids(note):
            with contextlib.suppress(OSError):
                os.unlink(path)
