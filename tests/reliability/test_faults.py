"""Fault scenarios on every engine (the ``engine`` fixture): what the user sees, what is cleaned up, and that
nothing secret is left anywhere a run leaves text.

Each scenario runs a real DAG (in a child process where the process itself is under test: hangs and kills),
then a leak search over the task log, XComs and rendered fields (the child's metadata database), the state
backend, the work-directory TMPDIR and the engine's environment (the per-task ``PULUMI_HOME``).
The figures in docs/reliability.md ("Faults") come from these runs: ``-s`` prints them.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.dagrun import PASSPHRASE, all_text_under
from tests.reliability.conftest import ChildRun

pytestmark = pytest.mark.integration

#: A secret config value every fault DAG sets: it must appear nowhere.
SECRET_CONFIG = "fault-secret-config-7d41c9e2"

#: The DAG reads it from the environment: the DAG file's own text (and Airflow's copy of it) holds no secret.
ENVS = 'import os\nENVS = {"dev": Environment(stack="dev", secret_config={"fault:password": os.environ["FAULT_SECRET"]})}\n'

#: Seconds a hung or killed task's process may take to end: generous, it is about not hanging forever.
EXIT_BOUND = 60.0


def assert_no_leak(run: ChildRun, backend: Path, *values: str) -> None:
    """None of ``values`` (the passphrase and the secret config value by default) anywhere the run left text."""
    values = values or (PASSPHRASE, SECRET_CONFIG)
    places = {
        "task log": run.output,
        "backend (state, history, locks)": all_text_under(backend),
        "temp dir": all_text_under(run.temp),
        "airflow home (metadata DB: XCom, rendered fields; per-task PULUMI_HOME)": all_text_under(run.home),
    }
    leaks = [(where, value[:12] + "...") for value in values for where, text in places.items() if value in text]
    assert not leaks, leaks


def _locks(backend: Path) -> list[Path]:
    return list((backend / ".pulumi" / "locks").rglob("*.json"))


def _figure(name: str, engine: str, seconds: float) -> None:
    print(f"\nFIGURE {name} engine={engine} seconds={seconds:.1f}")


HANG = ENVS + """
@dag(dag_id="{dag_id}", schedule=None, start_date=START)
def d():
    @pulumi_stack(project="hang", environments=ENVS, pulumi_command=ENGINE,
                  execution_timeout=pendulum.duration(seconds=TIMEOUT), kill_grace_period=3)
    def hang():
        import time
        from airflow_pulumi_decorators.testing.resources import Sleep
BODY
    hang()
the_dag = d()
"""

#: Blocked in C for ten minutes: no Python instruction runs until it returns.
SLEEP_IN_PROGRAM = """
        Sleep("before", seconds=0.1)
        time.sleep(600)
        return {"never": 1}
"""

#: A Python loop inside an apply (waiting for something that never comes).
LOOP_IN_APPLY = """
        first = Sleep("before", seconds=0.1)
        def forever(value):
            while True:
                time.sleep(0.05)
        return {"never": first.id.apply(forever)}
"""


@pytest.mark.parametrize("body", [SLEEP_IN_PROGRAM, LOOP_IN_APPLY], ids=["sleep-in-program", "loop-in-apply"])
def test_hung_program_times_out_and_the_process_ends(child_dag, engine, backend, body):
    timeout = 6
    source = engine.header + HANG.replace("BODY", body).replace("TIMEOUT", str(timeout))
    run = child_dag.run(source, timeout=EXIT_BOUND + 60, env={"FAULT_SECRET": SECRET_CONFIG})
    assert run.dag_state == "failed", run.output[-4000:]
    assert "AirflowTaskTimeout" in run.output, run.output[-4000:]
    # Start-up (Airflow, the engine) takes a few seconds; the rest is the timeout and the stop.
    assert run.seconds < EXIT_BOUND, f"the process took {run.seconds:.0f}s to end"
    _figure("hang " + ("sleep" if body is SLEEP_IN_PROGRAM else "apply") + ": timeout to process exit", engine.name,
            run.seconds_after("Process timed out"))
    assert not run.work_dirs(), run.work_dirs()
    blocked_in_c_in_process = engine.name == "standin" and body is SLEEP_IN_PROGRAM
    if blocked_in_c_in_process:
        # The in-process stand-in waits for a program blocked in C; the task gives up on it and says so.
        assert "the task gives up on it" in run.output, run.output[-4000:]
    else:
        assert not _locks(backend), "the stack was left locked"
    assert "Traceback" not in run.output.split("DAG-STATE")[-1], "errors after the run ended"
    assert_no_leak(run, backend)
