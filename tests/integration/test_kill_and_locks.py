"""Kills, timeouts and locks on real DAG runs, on every engine (the ``engine`` fixture).

The program chains :class:`~airflow_pulumi_decorators.testing.resources.Sleep` resources, so an update
takes seconds on any engine. A DAG run in a child process (the ``child_dag`` fixture: ``dag.test()``, its
own copy of the Airflow database) is killed while its ``up`` is in flight; then the stack must be unlocked
(or the lock reported with the way out), temp files gone, and the next run must succeed. Two runs on one
stack: the second fails naming the first, or waits.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.dagfiles import dag_source

pytestmark = pytest.mark.integration

def slow_stack(*, options: dict | None = None, count: int = 8, delay: float = 0.5) -> dict:
    """The parameters of ``dags/slow_stack.py``."""
    return {"options": options or {}, "count": count, "delay": delay}


def _locks(backend: Path) -> list[Path]:
    return list((backend / ".pulumi" / "locks").rglob("*.json"))


def _state(backend: Path) -> dict:
    return json.loads((backend / ".pulumi" / "stacks" / "slow" / "dev.json").read_text())


def _wait_until_updating(backend: Path, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    """The up holds the lock, has created a resource and has the next one in flight (its pending
    operation is written)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()[-4000:]
        try:
            latest = _state(backend)["checkpoint"].get("latest") or {}
            if _locks(backend) and latest.get("pending_operations") and _sleeps(backend):
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the up to start creating resources")


def _notes(backend: Path) -> list[Path]:
    """The holder notes left in the backend (:mod:`airflow_pulumi_decorators.locks`)."""
    return list((backend / ".pulumi" / "airflow-holders").rglob("*.json"))


def _homes(worker: Path) -> list[Path]:
    """The per-task PULUMI_HOMEs on a worker."""
    return sorted((worker / "homes").glob("task-*"))


def _history(backend: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((backend / ".pulumi" / "history").rglob("*.history.json"))]


def _pending(backend: Path) -> list[tuple[str, str]]:
    """The pending operations in the state: (type, resource name)."""
    latest = _state(backend)["checkpoint"].get("latest") or {}
    return [(op["type"], op["resource"]["urn"].rsplit("::", 1)[-1]) for op in latest.get("pending_operations") or []]


def _sleeps(backend: Path) -> list[str]:
    latest = _state(backend)["checkpoint"].get("latest") or {}
    return [r["urn"].rsplit("::", 1)[-1] for r in latest.get("resources") or [] if r["type"].endswith(":Sleep")]


def test_sigterm_mid_up_stops_gracefully_and_the_next_run_succeeds(child_dag, backend, run_dag_file, engine):
    proc, temp, _ = child_dag.start(dag_source("slow_stack"), dag_id="t_kill_term", params=slow_stack())
    _wait_until_updating(backend, proc)
    os.kill(proc.pid, signal.SIGTERM)  # what the task runner gets when the task is marked failed / stopped
    out, _ = proc.communicate(timeout=120)
    assert "DAG-STATE failed" in out, out[-4000:]
    assert "OperationInterruptedError" in out and "stopped gracefully" in out, out[-4000:]
    assert "task is being stopped; interrupting the engine" in out
    assert not _locks(backend), "the stack was left locked"
    assert _history(backend)[-1]["result"] == "failed"  # the CLI wrote its state before exiting
    assert 0 < len(_sleeps(backend)) < 8
    assert not _state(backend)["checkpoint"]["latest"].get("pending_operations")
    assert not list(temp.glob("airflow-pulumi-*")), "work directory left behind"
    assert not list(temp.glob("automation-*"))
    # The next run picks up where the killed one stopped, without any manual step.
    again = run_dag_file("slow_stack", engine=engine, **slow_stack())
    assert again.state == "success", again.output[-3000:]
    assert sorted(_sleeps(backend)) == [f"s{i}" for i in range(8)]
    assert "pending operations" not in again.output


def test_execution_timeout_mid_up_stops_the_engine_gracefully(run_dag_file, backend, engine):
    # 40 resources of 0.5 s each, one after another: the timeout lands mid-update even when a loaded machine
    # takes seconds to start the engine.
    result = run_dag_file("slow_stack", engine=engine, **slow_stack(options={"execution_timeout": 10}, count=40))
    assert result.task_states["slow"] == "failed", result.output[-3000:]
    assert "AirflowTaskTimeout" in result.output
    assert "stopped gracefully" in result.output or "update canceled" in result.output  # interrupted, not abandoned
    assert 0 < len(_sleeps(backend)) < 40
    assert not _locks(backend)
    assert _history(backend)[-1]["result"] == "failed"
    again = run_dag_file("slow_stack", engine=engine, **slow_stack(count=40, delay=0.01))
    assert again.state == "success", again.output[-3000:]


def test_hard_kill_leaves_a_lock_that_is_reported_with_the_run_and_the_way_out(
    child_dag, backend, run_dag_file, engine, tmp_path, monkeypatch
):
    worker = tmp_path / "worker"  # the killed run and the next ones share a worker folder
    # 3 s per resource: the kill lands while one is in flight even when a loaded machine is slow to send it.
    proc, _, _ = child_dag.start(dag_source("slow_stack"), dag_id="t_kill_hard", params=slow_stack(delay=3.0),
                                 env={"AIRFLOW__PULUMI__WORKER_DIR": str(worker)})
    _wait_until_updating(backend, proc)
    os.killpg(proc.pid, signal.SIGKILL)  # no chance to clean up: like an OOM kill or a lost node
    proc.wait(timeout=30)
    assert _locks(backend), "a hard kill should leave the lock behind"
    killed_homes = _homes(worker)
    assert killed_homes and _notes(backend), "a hard kill leaves the task's PULUMI_HOME and holder note"

    monkeypatch.setenv("AIRFLOW__PULUMI__WORKER_DIR", str(worker))
    blocked = run_dag_file("slow_stack", engine=engine, **slow_stack())
    assert not any(home.exists() for home in killed_homes), "the killed task's PULUMI_HOME was not removed"
    assert _notes(backend), "the killed run's note must stay while its lock does"
    assert blocked.task_states["slow"] == "failed"
    text = blocked.output
    assert "ConcurrentUpdateError" in text
    assert "Airflow dag_id=t_kill_hard" in text and "task_id=slow" in text, text[-3000:]  # which run holds it
    assert "no longer running (killed?), so the lock is stale" in text, text[-3000:]
    assert "cancel_stale_lock=True" in text and "pulumi cancel" in text

    recovered = run_dag_file("slow_stack", engine=engine, **slow_stack(options={"cancel_stale_lock": True}))
    assert recovered.state == "success", recovered.output[-3000:]
    assert "cancelling that lock" in recovered.output
    # Pulumi's pending operations from the killed update are reported, with the way to recover.
    assert "was killed while operations were in flight" in recovered.output, recovered.output[-3000:]
    assert "interrupted while creating" in recovered.output
    assert "clear_pending_creates=True" in recovered.output
    assert recovered.xcom("slow", "pulumi_summary")["pending_operations"] >= 1
    assert not _locks(backend)
    assert not _notes(backend), "the killed run's holder note outlived its lock"
    assert not _homes(worker)
    # Like the real CLI, every engine keeps the pending creates in the state after the update, until a refresh
    # with clear_pending_creates drops them; the other pending operations go.
    kept = _pending(backend)
    assert kept and {op for op, _ in kept} == {"creating"}, kept

    # The one-option recovery: the next run refreshes, dropping them, then updates; nothing left to report.
    cleared = run_dag_file("slow_stack", engine=engine, **slow_stack(options={"clear_pending_creates": True}))
    assert cleared.state == "success", cleared.output[-3000:]
    assert "dropping pending creates (clear_pending_creates=True)" in cleared.output
    assert "interrupted while creating" not in cleared.output, cleared.output[-3000:]
    assert cleared.xcom("slow", "pulumi_summary")["pending_operations"] == 0
    assert _pending(backend) == []
    assert sorted(_sleeps(backend)) == [f"s{i}" for i in range(8)]


def _standin_exe() -> str:
    return str(Path(sys.executable).with_name("pulumi-standin"))


def _mark_task_instances(dag_id: str, state: str) -> None:
    """What the scheduler does to a dead worker's task instance once its heartbeat timeout passed."""
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        assert session.query(TaskInstance).filter(TaskInstance.dag_id == dag_id).update({"state": state}) == 1


def test_a_lock_left_by_a_worker_that_died_on_another_host_is_judged_stale_by_airflows_record(
    child_dag, backend, run_dag_file, engine, tmp_path
):
    """Another host's pid tells this one nothing: Airflow's record of the holder's task instance decides.
    The killed run shares this test's Airflow database, as the workers of a deployment share one."""
    dead = f"t_kill_remote_{uuid.uuid4().hex[:6]}"  # the test's Airflow database outlives the test
    proc, _, _ = child_dag.start(dag_source("slow_stack"), dag_id=dead, params=slow_stack(delay=3.0),
                                 host="worker-that-died", shared_db=True)
    _wait_until_updating(backend, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    (lock,) = _locks(backend)
    assert json.loads(lock.read_text())["hostname"] == "worker-that-died"

    # Until Airflow notices (the heartbeat timeout), its record says running: the lock is live.
    waiting = run_dag_file("slow_stack", engine=engine, **slow_stack())
    assert waiting.task_states["slow"] == "failed"
    assert f"Airflow dag_id={dead}" in waiting.output and "Wait for it" in waiting.output, waiting.output[-3000:]
    assert "stale" not in waiting.output

    _mark_task_instances(dead, "failed")
    blocked = run_dag_file("slow_stack", engine=engine, **slow_stack(options={"lock_wait": 300}))
    assert blocked.task_states["slow"] == "failed"
    text = blocked.output
    assert f"Airflow dag_id={dead}" in text and "@worker-that-died (pid" in text, text[-3000:]
    assert "Airflow says that task instance is failed, no longer running, so the lock is stale" in text, text[-3000:]
    assert "retrying in" not in text  # a stale lock is not waited for, even with lock_wait
    command = re.search(r"run `(PULUMI_BACKEND_URL=(\S+) pulumi cancel --yes --stack (\S+))`", text)
    assert command and command.group(2) == f"file://{backend}" and command.group(3) == "organization/slow/dev", text

    # The command the error gives works for an inline program (tried on a copy of the backend).
    copy = tmp_path / "backend-copy"
    shutil.copytree(backend, copy)
    cli = engine.cli or _standin_exe()
    done = subprocess.run([cli, "cancel", "--yes", "--stack", command.group(3)], cwd=tmp_path, text=True,
                          capture_output=True, timeout=120,
                          env={**os.environ, "PULUMI_BACKEND_URL": f"file://{copy}", "PULUMI_SKIP_UPDATE_CHECK": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert not list((copy / ".pulumi" / "locks").rglob("*.json"))

    recovered = run_dag_file("slow_stack", engine=engine, **slow_stack(options={"cancel_stale_lock": True}))
    assert recovered.state == "success", recovered.output[-3000:]
    assert re.search(rf"locked by Airflow dag_id={dead} .*that task instance is failed, no longer running, "
                     r"so the lock is stale; cancel_stale_lock is on: cancelling that lock", recovered.output)
    assert not _locks(backend)
    assert not _notes(backend), "the dead holder's note outlived its cancelled lock"


def test_second_run_on_a_locked_stack_fails_naming_the_first(child_dag, backend, run_dag_file, engine):
    # Long enough (~10 s) that the second dag.test() starts, even cold, while the first holds the lock.
    proc, _, _ = child_dag.start(dag_source("slow_stack"), dag_id="t_first_run", params=slow_stack(count=20))
    _wait_until_updating(backend, proc)
    # A waiter's note written at the very time of the lock (a live process of this host that does not hold
    # it): matching notes by time named it; only the note with the lock's host and pid may name the holder.
    lock = json.loads(_locks(backend)[0].read_text())
    waiter = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    decoy = backend / ".pulumi" / "airflow-holders" / "slow" / "dev" / f"{waiter.pid}-decoy.json"
    decoy.parent.mkdir(parents=True, exist_ok=True)
    decoy.write_text(json.dumps({"message": "airflow: dag_id=t_a_waiter run_id=r task_id=slow try=1",
                                 "host": socket.gethostname(), "pids": [waiter.pid], "pid": waiter.pid,
                                 "time": lock["timestamp"]}))
    started = time.monotonic()
    try:
        second = run_dag_file("slow_stack", engine=engine, **slow_stack(options={"lock_wait": 0}))
    finally:
        waiter.kill()
        waiter.wait()
    assert time.monotonic() - started < 30
    assert second.task_states["slow"] == "failed"
    assert "ConcurrentUpdateError" in second.output
    assert "is locked by another update: held by Airflow dag_id=t_first_run" in second.output, second.output[-3000:]
    assert f"(pid {lock['pid']})" in second.output and "t_a_waiter" not in second.output
    assert "Airflow pool" in second.output
    out, _ = proc.communicate(timeout=120)
    assert "DAG-STATE success" in out, out[-3000:]


def test_second_run_waits_for_the_lock_with_backoff_then_succeeds(child_dag, backend, run_dag_file, engine):
    proc, _, _ = child_dag.start(dag_source("slow_stack"), dag_id="t_first_run", params=slow_stack(count=16))
    _wait_until_updating(backend, proc)
    second = run_dag_file("slow_stack", engine=engine, **slow_stack(options={"lock_wait": 120}, count=16))
    assert second.state == "success", second.output[-3000:]
    assert "retrying in" in second.output and "dag_id=t_first_run" in second.output
    assert second.xcom("slow", "pulumi_summary")["attempts"] >= 2
    out, _ = proc.communicate(timeout=120)
    assert "DAG-STATE success" in out, out[-3000:]
    assert not _locks(backend)


def test_lock_wait_is_bounded(child_dag, backend, run_dag_file, engine):
    proc, _, _ = child_dag.start(dag_source("slow_stack"), dag_id="t_first_run", params=slow_stack(count=30, delay=2.0))
    _wait_until_updating(backend, proc)
    started = time.monotonic()
    # lock_wait leaves room for a second attempt when a loaded machine makes the first one slow.
    second = run_dag_file("slow_stack", engine=engine, **slow_stack(options={"lock_wait": 8}))
    assert second.task_states["slow"] == "failed"
    assert "attempts over" in second.output and "held by Airflow dag_id=t_first_run" in second.output, (
        second.output[-3000:])
    assert time.monotonic() - started < 50  # the holder's update lasts 60 s
    os.killpg(proc.pid, signal.SIGTERM)
    proc.communicate(timeout=120)


def test_creating_a_new_stack_waits_for_its_lock_within_lock_wait(run_dag_file, backend, engine):
    """Creating a stack takes the stack lock; a run that finds a new stack locked waits (lock_wait), as it does
    for an existing one. The lock goes once the run has tried to create the stack twice."""
    lock = backend / ".pulumi" / "locks" / "organization" / "slow" / "dev" / f"{uuid.uuid4()}.json"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"pid": os.getpid(), "username": "someone", "hostname": socket.gethostname(),
                                "timestamp": "2026-12-06T07:00:00.000000000Z"}))
    done = threading.Event()

    def release() -> None:
        while not done.is_set():
            creates = [c for c in engine.invocations(backend) if "--create" in c]
            if len(creates) >= 2:
                lock.unlink()
                return
            time.sleep(0.05)

    releaser = threading.Thread(target=release, daemon=True)
    releaser.start()
    try:
        result = run_dag_file("slow_stack", engine=engine, **slow_stack(options={"lock_wait": 120}, count=1, delay=0.1))
    finally:
        done.set()
    assert result.state == "success", result.output[-3000:]
    assert "is locked by someone@" in result.output and "retrying in" in result.output, result.output[-3000:]
    assert result.xcom("slow", "pulumi_summary")["attempts"] >= 2
    assert _sleeps(backend) == ["s0"] and not _locks(backend)
