"""Lock holders (:mod:`airflow_pulumi_decorators.locks`): Pulumi's lock message parsed, and the note that names
the Airflow run holding a ``file://`` stack's lock."""

from __future__ import annotations

import datetime
import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from airflow_pulumi_decorators.backend_url import BackendUrl
from airflow_pulumi_decorators.locks import (
    LockHolder,
    TaskRef,
    forget_holder,
    holder_note,
    judge_by_airflow,
    parse_lock_holder,
    with_airflow_holder,
)


def test_lock_holder_is_parsed_from_pulumis_message_and_stale_when_the_process_is_gone():
    dead_pid = 2**22 + 12345
    text = (
        "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or "
        "delete the lock file with `pulumi cancel`.\n"
        f"  /s/.pulumi/locks/p/dev/x.json: created by alice@{socket.gethostname()} (pid {dead_pid}) at "
        "2026-01-01T00:00:00.000Z"
    )
    holder = parse_lock_holder(text)
    assert (holder.user, holder.pid, holder.since) == ("alice", dead_pid, "2026-01-01T00:00:00.000Z")
    assert holder.stale and "no longer running" in holder.describe()
    alive = parse_lock_holder(text.replace(str(dead_pid), str(os.getpid())))
    assert not alive.stale
    assert parse_lock_holder("[409] Conflict: Another update is currently in progress.").describe().startswith(
        "an unknown holder"
    )


def _dead_pid() -> int:
    """The pid of a process that ran on this host and was killed (SIGKILL) and reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return proc.pid


def _lock_text(user: str, host: str, pid: int, when: datetime.datetime) -> str:
    return (
        "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or "
        f"delete the lock file with `pulumi cancel`.\n  /s/.pulumi/locks/organization/p/dev/x.json: created by "
        f"{user}@{host} (pid {pid}) at {when.isoformat()}"
    )


def _write_note(notes, name: str, message: str, pids: list[int], when: datetime.datetime,
                host: str | None = None) -> None:
    notes.mkdir(parents=True, exist_ok=True)
    (notes / name).write_text(json.dumps({"message": message, "host": host or socket.gethostname(),
                                          "pids": pids, "pid": pids[0], "time": when.isoformat()}))


def test_holder_note_names_the_airflow_run_only_while_it_runs(tmp_path):
    url = BackendUrl(f"file://{tmp_path}")
    notes = tmp_path / ".pulumi" / "airflow-holders" / "p" / "dev"
    now = datetime.datetime.now(datetime.timezone.utc)
    with holder_note(url, "p", "dev", "airflow: dag_id=d run_id=r task_id=t try=1") as note:
        note.add_pid(4242)  # a CLI process the run started
        written = json.loads(next(notes.glob("*.json")).read_text())
        assert written["host"] == socket.gethostname() and written["pids"] == [os.getpid(), 4242]
        found = with_airflow_holder(parse_lock_holder(_lock_text("bob", socket.gethostname(), 4242, now)),
                                    url, "p", "dev")
        assert found.airflow == "dag_id=d run_id=r task_id=t try=1"
        note.drop_pid(4242)  # the CLI ended: it holds no lock any more
        assert json.loads(next(notes.glob("*.json")).read_text())["pids"] == [os.getpid()]
    assert list(notes.glob("*")) == []  # gone with the run
    assert with_airflow_holder(parse_lock_holder(_lock_text("bob", "h", 7, now)), BackendUrl("gs://bucket"),
                               "p", "dev").airflow is None


@pytest.mark.parametrize("holder_first", [True, False], ids=["holder-wrote-first", "holder-wrote-last"])
def test_the_holder_is_the_run_whose_note_has_the_locks_host_and_pid_never_the_nearest_in_time(
    tmp_path, holder_first
):
    """Four overlapping runs: the holder's note was written long before (or after) the lock's time, the
    waiters' right at it. Only the note with the lock's host and pid names the holder."""
    url = BackendUrl(f"file://{tmp_path}")
    notes = tmp_path / ".pulumi" / "airflow-holders" / "p" / "dev"
    host = socket.gethostname()
    lock_time = datetime.datetime.now(datetime.timezone.utc)
    holder_cli = os.getpid() + 1 if os.getpid() + 1 < 2**22 else 2  # the pid in Pulumi's lock (the CLI's)
    for i in range(3):  # waiters: their notes close to the lock's time; running processes (this one)
        _write_note(notes, f"w{i}.json", f"airflow: dag_id=waiter{i} run_id=r task_id=t try=1", [os.getpid(), 3000 + i],
                    lock_time + datetime.timedelta(milliseconds=10 * i))
    holder_time = lock_time + datetime.timedelta(seconds=-90 if holder_first else 90)
    _write_note(notes, "h.json", "airflow: dag_id=holder run_id=r task_id=t try=1", [os.getpid(), holder_cli],
                holder_time)
    _write_note(notes, "other-host.json", "airflow: dag_id=elsewhere run_id=r task_id=t try=1",
                [holder_cli], lock_time, host="another-host")

    holder = with_airflow_holder(parse_lock_holder(_lock_text("alice", host, holder_cli, lock_time)), url, "p", "dev")
    assert holder.airflow == "dag_id=holder run_id=r task_id=t try=1"
    assert holder.describe().startswith(f"Airflow dag_id=holder run_id=r task_id=t try=1, alice@{host} (pid ")

    # A lock no note names (another host's pid, or a pid nobody noted): only user@host (pid), as Pulumi says.
    for text in (_lock_text("alice", "third-host", holder_cli, lock_time), _lock_text("alice", host, 5, lock_time)):
        unnamed = with_airflow_holder(parse_lock_holder(text), url, "p", "dev")
        assert unnamed.airflow is None and not unnamed.describe().startswith("Airflow")


def test_a_pid_two_runs_noted_names_neither(tmp_path):
    """An in-process engine takes the lock as the task process: two runs in one process cannot be told apart."""
    url = BackendUrl(f"file://{tmp_path}")
    notes = tmp_path / ".pulumi" / "airflow-holders" / "p" / "dev"
    now = datetime.datetime.now(datetime.timezone.utc)
    _write_note(notes, "a.json", "airflow: dag_id=a", [os.getpid()], now)
    _write_note(notes, "b.json", "airflow: dag_id=b", [os.getpid()], now)
    holder = parse_lock_holder(_lock_text("u", socket.gethostname(), os.getpid(), now))
    assert with_airflow_holder(holder, url, "p", "dev").airflow is None


def test_notes_of_gone_holders_are_removed_by_the_next_run_once_their_lock_is_gone(tmp_path):
    url = BackendUrl(f"file://{tmp_path}")
    notes = tmp_path / ".pulumi" / "airflow-holders" / "p" / "dev"
    host, now = socket.gethostname(), datetime.datetime.now(datetime.timezone.utc)
    task, cli = _dead_pid(), _dead_pid()  # a hard-killed task and the CLI it ran
    _write_note(notes, "killed.json", "airflow: dag_id=killed", [task, cli], now)
    _write_note(notes, "old-format.json", "airflow: dag_id=old", [_dead_pid()], now)
    _write_note(notes, "half-alive.json", "airflow: dag_id=half", [task, os.getpid()], now)  # the task still runs
    _write_note(notes, "remote.json", "airflow: dag_id=remote", [task], now, host="another-host")  # can't tell
    lock = tmp_path / ".pulumi" / "locks" / "organization" / "p" / "dev" / "0b7e.json"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"pid": cli, "username": "u", "hostname": host, "timestamp": now.isoformat()}))

    # The killed run's lock is still there: its note stays and names it.
    holder = with_airflow_holder(parse_lock_holder(_lock_text("u", host, cli, now)), url, "p", "dev")
    assert holder.airflow == "dag_id=killed" and holder.stale
    assert sorted(p.name for p in notes.glob("*.json")) == ["half-alive.json", "killed.json", "remote.json"]

    lock.unlink()  # `pulumi cancel` (cancel_stale_lock)
    with holder_note(url, "p", "dev", "airflow: dag_id=next"):  # the next run writes its note
        left = sorted(p.name for p in notes.glob("*.json"))
    assert "killed.json" not in left and {"half-alive.json", "remote.json"} <= set(left)


def _remote_holder(task: TaskRef | None) -> LockHolder:
    """A lock taken on another host (its pid says nothing here), with the task its note recorded."""
    return LockHolder(user="u", host="worker-that-died", pid=4242, task=task, airflow="dag_id=d run_id=r")


HOLDER = TaskRef("d", "r", "deploy", map_index=2, try_number=1)


def test_a_later_try_of_the_holders_own_task_instance_makes_the_lock_stale_without_asking():
    asked = []
    retry = TaskRef("d", "r", "deploy", map_index=2, try_number=2)
    judged = judge_by_airflow(_remote_holder(HOLDER), retry, lambda ref: asked.append(ref) or "running")
    assert judged.stale and asked == []
    assert "Airflow runs try 2 of that task instance now (try 1 ended), so the lock is stale" in judged.describe()
    # The same try (another process of it) or an earlier one is not judged.
    assert not judge_by_airflow(_remote_holder(HOLDER), HOLDER, None).stale


@pytest.mark.parametrize("state", ["failed", "up_for_retry", "success", "upstream_failed", "removed"])
def test_a_holder_task_instance_airflow_says_is_not_running_makes_the_lock_stale(state):
    asked = []
    other = TaskRef("d", "r2", "deploy", try_number=1)
    judged = judge_by_airflow(_remote_holder(HOLDER), other, lambda ref: asked.append(ref) or state)
    assert asked == [HOLDER]
    assert judged.stale and f"Airflow says that task instance is {state}, no longer running" in judged.describe()


@pytest.mark.parametrize("state", ["running", "queued", "scheduled", "restarting", "deferred", "up_for_reschedule"])
def test_a_holder_task_instance_that_may_still_run_keeps_its_lock(state):
    assert not judge_by_airflow(_remote_holder(HOLDER), None, lambda ref: state).stale


def test_a_holder_airflow_does_not_know_or_an_unanswered_question_judges_nothing():
    """A run of another deployment, or of `airflow dags test` on a laptop, on the same backend: not ours to cancel."""
    assert not judge_by_airflow(_remote_holder(HOLDER), None, lambda ref: None).stale

    def unreachable(ref):
        raise ConnectionError("execution API down")

    assert not judge_by_airflow(_remote_holder(HOLDER), None, unreachable).stale
    assert not judge_by_airflow(_remote_holder(HOLDER), None, None).stale
    assert not judge_by_airflow(_remote_holder(None), None, lambda ref: "failed").stale  # no note: nothing to ask


def test_the_note_records_the_task_instance_and_another_host_reads_it_back(tmp_path):
    url = BackendUrl(f"file://{tmp_path}")
    with holder_note(url, "p", "dev", "airflow: dag_id=d", HOLDER) as note:
        note.add_pid(4242)
        written = next((tmp_path / ".pulumi" / "airflow-holders" / "p" / "dev").glob("*.json"))
        data = json.loads(written.read_text())
        data["host"] = "worker-that-died"  # as if written on another worker
        written.write_text(json.dumps(data))
        holder = with_airflow_holder(
            parse_lock_holder(_lock_text("u", "worker-that-died", 4242, datetime.datetime.now())), url, "p", "dev")
        assert holder.task == HOLDER and not holder.stale
        forget_holder(holder, url, "p", "dev")
        assert not written.exists()


def test_a_note_without_a_task_or_with_a_malformed_one_records_none():
    assert TaskRef.from_json(None) is None
    assert TaskRef.from_json({"dag_id": "d", "run_id": "r"}) is None
    assert TaskRef.from_json({"dag_id": "d", "run_id": "r", "task_id": "t", "try_number": "2"}) is None
    assert TaskRef.from_json(HOLDER.to_json()) == HOLDER
