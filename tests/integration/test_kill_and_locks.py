"""Kills, timeouts and locks on real DAG runs with the stand-in engine running slowly.

A DAG run in a child process (``dag.test()``, its own copy of the Airflow database) is killed while its
``up`` is in flight; then the stack must be unlocked (or the lock reported with the way out), temp files
gone, and the next run must succeed. Two runs on one stack: the second fails naming the first, or waits.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.dagrun import PASSPHRASE

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

SLOW_DAG = """
import pendulum
from airflow.sdk import dag
from airflow_pulumi_decorators import pulumi_stack
from airflow_pulumi_decorators.testing import StandinCommand

ENGINE = {engine}

@dag(dag_id="{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="slow", stack="dev", pulumi_command=ENGINE, {options})
    def slow():
        import pulumi_random as random
        import pulumi
        pets = []
        for i in range({count}):  # one after the other, so a kill lands in the middle
            opts = pulumi.ResourceOptions(depends_on=pets[-1:])
            pets.append(random.RandomPet(f"p{{i}}", length=2, opts=opts))
        return {{"count": len(pets)}}
    slow()
the_dag = d()
"""

RUNNER = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("slow_dag", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
run = module.the_dag.test()
print("DAG-STATE", run.state, flush=True)
"""


def _dag_file(folder: Path, dag_id: str, *, engine: str = "StandinCommand()", options: str = "", count: int = 8) -> Path:
    path = folder / f"{dag_id}.py"
    path.write_text(textwrap.dedent(SLOW_DAG).format(dag_id=dag_id, engine=engine, options=options, count=count))
    return path


@pytest.fixture
def child(airflow_home, backend, tmp_path):
    """Start ``dag.test()`` of a DAG file in a child process with its own AIRFLOW_HOME and TMPDIR."""
    home = tmp_path / "child-home"
    (home / "dags").mkdir(parents=True)
    shutil.copy(airflow_home / "airflow.db", home / "airflow.db")
    temp = tmp_path / "child-tmp"
    temp.mkdir()
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    procs: list[subprocess.Popen] = []

    def start(dag_id: str, *, delay: float = 0.5, **kwargs) -> subprocess.Popen:
        path = _dag_file(home / "dags", dag_id, **kwargs)
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "PULUMI_BACKEND_URL": f"file://{backend}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_STANDIN_DELAY_PER_RESOURCE": str(delay),
            "TMPDIR": str(temp),
            "PYTHONPATH": str(REPO),
        }
        proc = subprocess.Popen(
            [sys.executable, str(runner), str(path)], env=env, cwd=str(tmp_path),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        procs.append(proc)
        return proc

    start.temp = temp  # type: ignore[attr-defined]
    start.home = home  # type: ignore[attr-defined]
    yield start
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _locks(backend: Path) -> list[Path]:
    return list((backend / ".pulumi" / "locks").rglob("*.json"))


def _wait_for(predicate, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _wait_until_updating(backend: Path, proc: subprocess.Popen) -> None:
    """The up holds the lock and has at least one resource step in flight (pending operation written)."""

    def in_flight() -> bool:
        assert proc.poll() is None, proc.stdout.read()[-4000:]
        state = backend / ".pulumi" / "stacks" / "slow" / "dev.json"
        if not _locks(backend) or not state.exists():
            return False
        try:
            return bool(json.loads(state.read_text())["checkpoint"]["latest"].get("pending_operations"))
        except ValueError:
            return False

    _wait_for(in_flight, what="the up to start creating resources")


def _history(backend: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((backend / ".pulumi" / "history").rglob("*.json"))]


def _resources(backend: Path) -> list[str]:
    state = json.loads((backend / ".pulumi" / "stacks" / "slow" / "dev.json").read_text())
    return [r["urn"].rsplit("::", 1)[-1] for r in state["checkpoint"]["latest"].get("resources", [])]


def _shim(tmp_path: Path) -> str:
    from airflow_pulumi_decorators.testing.standin import install_shim

    return install_shim(str(tmp_path / "cli"))


def _in_process_dag(options: str, *, count: int) -> str:
    """SLOW_DAG for ``run_dag`` in this process: the in-process stand-in, ``count`` resources."""
    return textwrap.dedent(SLOW_DAG).format(dag_id="{dag_id}", engine="StandinCommand()", options=options, count=count)


@pytest.mark.parametrize("form", ["in-process", "subprocess"])
def test_sigterm_mid_up_stops_gracefully_and_the_next_run_succeeds(child, backend, run_dag, tmp_path, form):
    engine = "StandinCommand()" if form == "in-process" else "None"
    options = "" if form == "in-process" else f"cli_path={_shim(tmp_path)!r}"
    proc = child("t_kill_term", engine=engine, options=options)
    _wait_until_updating(backend, proc)
    os.kill(proc.pid, signal.SIGTERM)  # what the task runner gets when the task is marked failed / stopped
    out, _ = proc.communicate(timeout=90)
    assert "DAG-STATE failed" in out, out[-4000:]
    assert "OperationInterruptedError" in out and "stopped gracefully" in out, out[-4000:]
    assert "task is being stopped; interrupting the engine" in out
    assert not _locks(backend), "the stack was left locked"
    history = _history(backend)
    assert history[-1]["result"] == "failed"  # the CLI wrote its state before exiting
    made = _resources(backend)
    assert 0 < len(made) < 9
    state = json.loads((backend / ".pulumi" / "stacks" / "slow" / "dev.json").read_text())
    assert not state["checkpoint"]["latest"].get("pending_operations")
    assert not list(child.temp.glob("airflow-pulumi-*")), "work directory left behind"
    assert not list(child.temp.glob("automation-*"))
    # The next run picks up where the killed one stopped, without any manual step.
    again = run_dag(_in_process_dag("", count=8))
    assert again.state == "success", again.output[-3000:]
    assert sorted(_resources(backend)) == sorted(["slow-dev"] + [f"p{i}" for i in range(8)])
    assert "pending operations" not in again.output


def test_execution_timeout_mid_up_stops_the_engine_gracefully(run_dag, backend, monkeypatch):
    monkeypatch.setenv("PULUMI_STANDIN_DELAY_PER_RESOURCE", "0.5")
    source = textwrap.dedent(SLOW_DAG).format(
        dag_id="{dag_id}", engine="StandinCommand()", options="execution_timeout=pendulum.duration(seconds=3)",
        count=20,
    )
    result = run_dag(source)
    assert result.task_states["slow"] == "failed", result.output[-3000:]
    assert "AirflowTaskTimeout" in result.output
    assert "error: update canceled" in result.output  # the engine was interrupted, not abandoned
    assert 0 < len(_resources(backend)) < 21
    assert not _locks(backend)
    assert _history(backend)[-1]["result"] == "failed"
    monkeypatch.delenv("PULUMI_STANDIN_DELAY_PER_RESOURCE")
    again = run_dag(_in_process_dag("", count=20))
    assert again.state == "success", again.output[-3000:]


def test_hard_kill_leaves_a_lock_that_is_reported_with_the_run_and_the_way_out(child, backend, run_dag):
    proc = child("t_kill_hard")
    _wait_until_updating(backend, proc)
    os.killpg(proc.pid, signal.SIGKILL)  # no chance to clean up: like an OOM kill or a lost node
    proc.wait(timeout=30)
    assert _locks(backend), "a hard kill should leave the lock behind"
    rerun = _in_process_dag("{options}", count=8)

    blocked = run_dag(rerun.replace("{options}", ""))
    assert blocked.task_states["slow"] == "failed"
    text = blocked.output
    assert "ConcurrentUpdateError" in text
    assert "Airflow dag_id=t_kill_hard" in text and "task_id=slow" in text, text[-3000:]  # which run holds it
    assert "no longer running (killed?), so the lock is stale" in text
    assert "cancel_stale_lock=True" in text and "pulumi cancel" in text

    recovered = run_dag(rerun.replace("{options}", "cancel_stale_lock=True"))
    assert recovered.state == "success", recovered.output[-3000:]
    assert "cancelling that lock" in recovered.output
    # Pulumi's pending operations from the killed update are reported, with the way to recover.
    assert "was killed while operations were in flight" in recovered.output
    assert "interrupted while creating" in recovered.output
    assert "clear_pending_creates=True" in recovered.output
    assert recovered.xcom("slow", "pulumi_summary")["pending_operations"] >= 1
    assert not _locks(backend)


def test_second_run_on_a_locked_stack_fails_naming_the_first(child, backend, run_dag):
    # Long enough (~10 s) that the second dag.test() starts, even cold, while the first holds the lock.
    proc = child("t_first_run", delay=0.5, count=20)
    _wait_until_updating(backend, proc)
    source = _in_process_dag("lock_wait=0", count=8)
    started = time.monotonic()
    second = run_dag(source)
    assert time.monotonic() - started < 30
    assert second.task_states["slow"] == "failed"
    assert "ConcurrentUpdateError" in second.output
    assert "is locked by another update: held by Airflow dag_id=t_first_run" in second.output
    assert "Airflow pool" in second.output
    out, _ = proc.communicate(timeout=90)
    assert "DAG-STATE success" in out, out[-3000:]


def test_second_run_waits_for_the_lock_with_backoff_then_succeeds(child, backend, run_dag):
    proc = child("t_first_run", delay=0.5, count=16)
    _wait_until_updating(backend, proc)
    source = _in_process_dag("lock_wait=120", count=8)
    second = run_dag(source)
    assert second.state == "success", second.output[-3000:]
    assert "retrying in" in second.output and "dag_id=t_first_run" in second.output
    assert second.xcom("slow", "pulumi_summary")["attempts"] >= 2
    out, _ = proc.communicate(timeout=90)
    assert "DAG-STATE success" in out, out[-3000:]
    assert not _locks(backend)


def test_lock_wait_is_bounded(child, backend, run_dag):
    proc = child("t_first_run", delay=2.0, count=30)
    _wait_until_updating(backend, proc)
    source = _in_process_dag("lock_wait=3", count=8)
    started = time.monotonic()
    second = run_dag(source)
    elapsed = time.monotonic() - started
    assert second.task_states["slow"] == "failed"
    assert "attempts over" in second.output and "held by Airflow dag_id=t_first_run" in second.output
    assert elapsed < 30
    os.killpg(proc.pid, signal.SIGTERM)
    proc.communicate(timeout=90)
