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
import re
import signal
import time
from pathlib import Path

import pytest

from tests.childrun import ChildRun
from tests.dagfiles import dag_source
from tests.dagrun import PASSPHRASE, all_text_under

pytestmark = pytest.mark.integration

#: A secret config value every fault DAG sets: it must appear nowhere.
SECRET_CONFIG = "fault-secret-config-7d41c9e2"

#: The DAG files of these scenarios. Those that run in a child process read the secret config value from
#: its environment (``FAULT_SECRET``): the DAG file's own text (and Airflow's copy of it) holds no secret.
DAGS = "reliability/dags/"

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


@pytest.mark.parametrize("body", ["sleep-in-program", "loop-in-apply"], ids=["sleep-in-program", "loop-in-apply"])
def test_hung_program_times_out_and_the_process_ends(child_dag, engine, backend, body):
    timeout = 6
    run = child_dag.run(dag_source(DAGS + "hung_program"), params={"body": body, "timeout": timeout},
                        timeout=EXIT_BOUND + 60, env={"FAULT_SECRET": SECRET_CONFIG})
    assert run.dag_state == "failed", run.output[-4000:]
    assert "AirflowTaskTimeout" in run.output, run.output[-4000:]
    # Start-up (Airflow, the engine) takes a few seconds; the rest is the timeout and the stop.
    assert run.seconds < EXIT_BOUND, f"the process took {run.seconds:.0f}s to end"
    _figure("hang " + ("sleep" if body == "sleep-in-program" else "apply") + ": timeout to process exit", engine.name,
            run.seconds_after("Process timed out"))
    assert not run.work_dirs(), run.work_dirs()
    blocked_in_c_in_process = engine.name == "standin" and body == "sleep-in-program"
    if blocked_in_c_in_process:
        # The in-process stand-in waits for a program blocked in C; the task gives up on it and says so.
        assert "the task gives up on it" in run.output, run.output[-4000:]
    else:
        assert not _locks(backend), "the stack was left locked"
    assert "Traceback" not in run.output.split("DAG-STATE")[-1], "errors after the run ended"
    assert_no_leak(run, backend)


# -- kills at several points: the process ends, nothing is left behind ------------------------------

#: point -> (what the test waits for before SIGTERM: a log line or the marker file, resources, delay).
KILL_POINTS = {
    "before-up": ("pulumi: up project=killed", 3, 0.5),
    "mid-up": ("Sleep s1 creating", 8, 0.5),
    "during-outputs": ("<marker>", 2, 0.01),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigterm_at_several_points_ends_the_task_and_leaves_nothing(child_dag, engine, backend, tmp_path, point):
    wait_for, count, delay = KILL_POINTS[point]
    marker = tmp_path / "outputs-started"
    proc, temp, home = child_dag.start(dag_source(DAGS + "killed_stack"), params={"count": count, "delay": delay},
                                       env={"FAULT_SECRET": SECRET_CONFIG, "FAULT_MARKER": str(marker)})
    seen: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if wait_for == "<marker>":
            if marker.exists():
                break
            time.sleep(0.05)
            continue
        line = proc.stdout.readline()
        assert line or proc.poll() is None, "".join(seen)[-4000:]
        seen.append(line)
        if wait_for in line:
            break
    else:
        pytest.fail(f"never reached {point}")
    killed_at = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)  # what the task runner gets when the task is stopped
    try:
        rest, _ = proc.communicate(timeout=EXIT_BOUND)
    except Exception:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    run = ChildRun(proc.returncode, "".join(seen) + rest, time.monotonic() - killed_at, temp, home, time.time())
    _figure(f"SIGTERM {point}: signal to process exit", engine.name, run.seconds)
    assert run.dag_state == "failed", run.output[-4000:]
    assert "OperationInterruptedError" in run.output, run.output[-4000:]
    if point == "before-up":
        assert "nothing was changed" in run.output or "stopped gracefully" in run.output, run.output[-4000:]
    assert not run.work_dirs(), run.work_dirs()
    assert not _locks(backend), "the stack was left locked"
    assert_no_leak(run, backend)


# -- what the user reads: program errors, drift, a missing stack --------------------------------------


def test_errors_say_what_failed_and_how_to_fix_it(run_dag_file, engine, backend):
    result = run_dag_file(DAGS + "program_errors", engine=engine)
    text = result.output
    assert set(result.task_states.values()) == {"failed"}, result.task_states
    assert "ProgramError: the Pulumi program of stack 'body' raised KeyError: 'missing-thing'. Fix the program" in text
    applied = re.search(r"ProgramError: the Pulumi program of stack 'applied' raised ValueError: bad value in apply"
                        r"(, in an apply or input of resource [^.]*)?\. Fix the program", text)
    assert applied, text[-5000:]
    # Pulumi's SDK fails both the apply and the registration waiting on it, and reports whichever its run loop
    # awaits first: only the registration's error names the resource. When it is named, it is the right one.
    assert applied.group(1) in (
        None,
        ", in an apply or input of resource 'second' (type pulumi-python:dynamic/apd:Sleep)",
    )
    assert "DriftDetectedError: stack 'drifted' has drifted" in text
    assert "pulumi.automation.errors.CommandError" not in text  # not chained in front of the drift
    assert "pulumi: drift check (preview, refresh first; fails on any change) project=errs stack=drifted" in text
    assert "StackNotFoundError: stack 'never' does not exist in backend file://" in text
    assert "nothing was ever deployed to it for this environment" in text
    assert "XCom not found" not in text


# -- state and secrets faults ------------------------------------------------------------------------


def _secret_stack(run_dag_file, engine):
    """Run the stack with a secret output and the secret config value ``SECRET_CONFIG``."""
    return run_dag_file(DAGS + "secret_stack", engine=engine, secret_config=SECRET_CONFIG)


def test_wrong_passphrase_is_a_typed_error_naming_its_source(run_dag_file, engine, backend, monkeypatch):
    assert _secret_stack(run_dag_file, engine).state == "success"
    wrong = "wrong-passphrase-0a9f3c1d77"
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", wrong)
    result = _secret_stack(run_dag_file, engine)
    assert result.task_states["st"] == "failed"
    assert "WrongPassphraseError: stack 'dev' cannot decrypt its secrets: the passphrase from the worker's " \
           "PULUMI_CONFIG_PASSPHRASE is not the one the stack was created with" in result.output, result.output[-4000:]
    assert "state-secret-output-5b21" not in result.output
    for value in (wrong, PASSPHRASE):
        assert value not in result.output and value not in all_text_under(backend)


def test_corrupt_checkpoint_is_a_typed_error_with_the_file_and_the_fix(run_dag_file, engine, backend):
    assert _secret_stack(run_dag_file, engine).state == "success"
    checkpoint = backend / ".pulumi" / "stacks" / "st" / "dev.json"
    good = checkpoint.read_text()
    checkpoint.write_text(good[: len(good) // 2])  # truncated, as a full disk or a killed copy leaves it
    result = _secret_stack(run_dag_file, engine)
    assert result.task_states["st"] == "failed"
    assert f"StateCorruptError: the state of stack 'dev' cannot be read: its checkpoint file {checkpoint} " \
           "is not valid JSON" in result.output, result.output[-4000:]
    assert "operation='refresh'" in result.output
    # Every engine says it in the CLI's words (the stand-in too: no traceback of its own).
    assert "error: failed to load checkpoint: place 1: unexpected end of JSON input" in result.output
    checkpoint.write_text("garbled {{{")
    assert "StateCorruptError" in _secret_stack(run_dag_file, engine).output
    for value in (PASSPHRASE, SECRET_CONFIG, "state-secret-output-5b21"):
        assert value not in result.output


def test_unusable_backend_folder_is_a_typed_error_naming_it(run_dag_file, engine, backend, tmp_path, monkeypatch):
    """A backend the worker cannot write. Tests run as root here, where ``chmod 0o500`` does not stop a
    write; a backend path under a regular file fails for every user, so that is what is used then."""
    if os.geteuid() == 0:
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder")
        unusable = blocker / "state"
    else:
        unusable = tmp_path / "read-only"
        unusable.mkdir(mode=0o500)
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{unusable}")
    result = _secret_stack(run_dag_file, engine)
    assert result.task_states["st"] == "failed"
    assert f"BackendAccessError: the state backend file://{unusable} cannot be opened or written" in result.output, \
        result.output[-4000:]
    # Every engine says it in the CLI's words (the stand-in too: no traceback of its own).
    assert f'error: unable to open state directory "file://{unusable}"' in result.output
    assert SECRET_CONFIG not in result.output and PASSPHRASE not in result.output


# -- token service faults (the fake Google token server) --------------------------------------------


@pytest.mark.parametrize("fault", ["sts-503-always", "sts-drops", "sts-hangs"])
def test_token_service_faults_fail_the_task_before_the_engine_runs(
    run_dag_file, engine, backend, fake, subject_file, fault, private_tmp_dir
):
    from airflow_pulumi_decorators.testing.google import drop_connection, hang, status

    faults = {"sts-503-always": [status(503)] * 10, "sts-drops": [drop_connection()] * 10, "sts-hangs": [hang()]}
    fake.inject("sts", *faults[fault])
    config = fake.external_account_config(subject_token_file=subject_file)
    started = time.monotonic()
    result = run_dag_file(DAGS + "federated_stack", engine=engine, config=config, timeout=20)
    took = time.monotonic() - started
    _figure(f"token service {fault}: task start to failure", engine.name, took)
    assert result.task_states["tok"] == "failed"
    assert "IdentityError" in result.output or "AirflowTaskTimeout" in result.output, result.output[-4000:]
    assert not any(inv[:2] != ["--non-interactive", "version"] and "up" in inv
                   for inv in engine.invocations(backend)), "the engine ran"
    subject = subject_file.read_text()
    places = {"log": result.output, "xcom": json.dumps(result.xcoms, default=str),
              "rendered": json.dumps(result.rendered, default=str), "backend": all_text_under(backend),
              "temp": all_text_under(private_tmp_dir)}
    leaks = [(where, value[:8]) for value in [subject, *fake.issued_tokens()] for where, text in places.items()
             if value in text]
    assert not leaks, leaks
    assert not [p for p in private_tmp_dir.iterdir() if p.name.startswith("airflow-pulumi")]


@pytest.fixture
def private_tmp_dir(tmp_path, monkeypatch) -> Path:
    """This test's temp dir (work directories, credential files), to search and to check it is left empty."""
    import tempfile

    path = tmp_path / "tmp"
    path.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    return path
