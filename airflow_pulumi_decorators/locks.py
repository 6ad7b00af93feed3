"""Who holds a stack's lock, and whether that holder is gone.

Pulumi's lock errors name the holder only as ``user@host (pid N)``; a DAG author wants to know which
Airflow run that is. For ``file://`` backends we therefore leave a small *holder note* next to Pulumi's
state while an operation runs (the update message: dag, run, task, try), and read it back when another
run finds the stack locked. No Pulumi import here.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from airflow_pulumi_decorators.backend_url import BackendUrl

# Pulumi diy backend: "  <path>: created by USER@HOST (pid N) at TIME"
_LOCK_LINE = re.compile(r"created by (?P<user>[^@\s]*)@(?P<host>\S*) \(pid (?P<pid>\d+|\?)\) at (?P<time>\S+)")
# A holder note older than this relative to the lock is not trusted to describe it.
_NOTE_SKEW_S = 120.0


@dataclass(frozen=True)
class LockHolder:
    """The holder of a stack lock, as far as the backend and our note tell.

    :param user: the OS user that took the lock.
    :param host: the host it was taken on.
    :param pid: the process id of the CLI (or worker) that holds it.
    :param since: when it was taken (ISO text as the backend wrote it).
    :param airflow: the Airflow update message of the holder (``dag_id=… run_id=… task_id=… try=…``).
    """

    user: str | None = None
    host: str | None = None
    pid: int | None = None
    since: str | None = None
    airflow: str | None = None

    @property
    def stale(self) -> bool:
        """True when the lock was taken on this host by a process that no longer runs (a hard kill)."""
        if self.pid is None or not self.host or self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return _is_zombie(self.pid)

    def describe(self) -> str:
        parts = []
        if self.airflow:
            parts.append(f"Airflow {self.airflow}")
        if self.user or self.host:
            parts.append(f"{self.user or '?'}@{self.host or '?'} (pid {self.pid if self.pid is not None else '?'})")
        if self.since:
            parts.append(f"since {self.since}")
        text = ", ".join(parts) or "an unknown holder (the backend does not say)"
        if self.stale:
            text += "; that process is no longer running (killed?), so the lock is stale"
        return text


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


@contextlib.contextmanager
def holder_note(backend: BackendUrl | None, project: str, stack: str, message: str) -> Iterator[None]:
    """Leave a note saying which Airflow task runs on the stack, for the duration of the block.

    One file per writer (a hard-killed run's note stays, so the next run can name it); only for
    ``file://`` backends; a note that cannot be written never fails the operation.
    """
    directory = _note_dir(backend, project, stack)
    path = None
    if directory is not None:
        try:
            os.makedirs(directory, exist_ok=True)
            path = os.path.join(directory, f"{os.getpid()}-{uuid.uuid4().hex[:8]}.json")
            with open(f"{path}.tmp", "w", encoding="utf-8") as handle:
                json.dump({"message": message, "pid": os.getpid(), "host": socket.gethostname(),
                           "time": datetime.datetime.now(datetime.timezone.utc).isoformat()}, handle)
            os.replace(f"{path}.tmp", path)
        except OSError:
            path = None
    try:
        yield
    finally:
        if path is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)


def _parse_time(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    try:
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def with_airflow_holder(holder: LockHolder, backend: BackendUrl | None, project: str, stack: str) -> LockHolder:
    """Add the Airflow run from the holder note that matches the lock (by time), when there is one."""
    directory = _note_dir(backend, project, stack)
    if directory is None or not os.path.isdir(directory):
        return holder
    lock_time = _parse_time(holder.since)
    best: tuple[float, str] | None = None
    for name in os.listdir(directory):
        if not name.endswith(".json") or name.startswith(f"{os.getpid()}-"):
            continue  # our own note says nothing about the holder
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as handle:
                note = json.load(handle)
        except (OSError, ValueError):
            continue
        note_time = _parse_time(note.get("time"))
        if lock_time and note_time:
            distance = abs((lock_time - note_time).total_seconds())
            if distance > _NOTE_SKEW_S:
                continue  # a note from another (older) run than the lock
        else:
            distance = -(note_time.timestamp() if note_time else 0.0)  # no lock time: the newest note
        if best is None or distance < best[0]:
            best = (distance, str(note.get("message") or ""))
    if best is None or not best[1]:
        return holder
    return LockHolder(holder.user, holder.host, holder.pid, holder.since, best[1].removeprefix("airflow: "))
