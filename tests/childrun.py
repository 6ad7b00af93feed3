"""DAG runs in a child process: a DAG file run with ``dag.test()`` in its own Python, with its own copy of
the Airflow database and its own TMPDIR, so a test can time how long the process takes to end, kill it, and
search what it left behind (the ``child_dag`` fixture of ``tests/conftest.py``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.dagfiles import write_dag_params
from tests.dagrun import PASSPHRASE

REPO = Path(__file__).resolve().parents[1]

RUNNER = """
import importlib.util, sys, time
started = time.monotonic()
spec = importlib.util.spec_from_file_location("fault_dag", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
run = module.the_dag.test()
print("DAG-STATE", run.state, flush=True)
"""


@dataclass
class ChildRun:
    """A finished (or killed) child DAG run.

    :param returncode: the process's exit status.
    :param output: everything it printed (the task logs of ``dag.test()``).
    :param seconds: from start to the end of the process.
    :param temp: its TMPDIR (work directories go there).
    :param home: its AIRFLOW_HOME (metadata database, per-task PULUMI_HOME folders).
    :param ended_at: when the process ended (``time.time()``).
    """

    returncode: int
    output: str
    seconds: float
    temp: Path
    home: Path
    ended_at: float = 0.0

    def seconds_after(self, log_text: str) -> float:
        """Seconds from the first log line containing ``log_text`` (its timestamp) to the end of the process."""
        import datetime

        for line in self.output.splitlines():
            if log_text in line:
                stamp = datetime.datetime.fromisoformat(line.split()[0].replace("Z", "+00:00"))
                return self.ended_at - stamp.timestamp()
        raise AssertionError(f"{log_text!r} is not in the output")

    @property
    def dag_state(self) -> str | None:
        for line in reversed(self.output.splitlines()):
            if line.startswith("DAG-STATE "):
                return line.split()[1]
        return None

    def work_dirs(self) -> list[str]:
        """Work directories (``airflow-pulumi-*``) and Automation API temp folders left in its TMPDIR."""
        return sorted(p.name for p in self.temp.iterdir() if p.name.startswith(("airflow-pulumi-", "automation-")))


class ChildDag:
    """Start DAG files in child processes (see the module docstring).

    :param engine: the engine's name, given to the DAG files of ``tests/integration/dags/`` with their parameters.
    """

    def __init__(self, airflow_home: Path, backend: Path, tmp_path: Path, engine: str = "standin") -> None:
        self.airflow_home = airflow_home
        self.backend = backend
        self.tmp_path = tmp_path
        self.engine = engine
        self.procs: list[subprocess.Popen] = []
        self._count = 0

    def start(
        self, source: str, *, env: dict[str, str] | None = None, dag_id: str | None = None,
        params: dict | None = None, host: str | None = None, shared_db: bool = False,
    ) -> tuple[subprocess.Popen, Path, Path]:
        """Start ``source`` (``{dag_id}`` filled in); returns the process, its TMPDIR and AIRFLOW_HOME.

        :param dag_id: the DAG id (default ``t_fault_<n>``), e.g. to find it in a lock's holder.
        :param params: the parameters of a DAG file of ``tests/integration/dags/`` (with the engine's name),
            written beside it.
        :param host: run it as another host: its own hostname (``unshare --uts``), as a second worker is.
        :param shared_db: use the test's Airflow database rather than a copy, as the workers of one deployment
            do (its task instances are then what the test's runs ask Airflow about).
        """
        self._count += 1
        dag_id = dag_id or f"t_fault_{self._count}"
        home = self.tmp_path / f"child-home-{self._count}"
        (home / "dags").mkdir(parents=True)
        shutil.copy(self.airflow_home / "airflow.db", home / "airflow.db")
        temp = self.tmp_path / f"child-tmp-{self._count}"
        temp.mkdir()
        path = home / "dags" / f"{dag_id}.py"
        path.write_text(textwrap.dedent(source).replace("{dag_id}", dag_id))
        write_dag_params(path, self.engine, params or {})
        runner = self.tmp_path / "runner.py"
        runner.write_text(RUNNER)
        child_env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "PULUMI_BACKEND_URL": os.environ.get("PULUMI_BACKEND_URL", f"file://{self.backend}"),
            "PULUMI_CONFIG_PASSPHRASE": os.environ.get("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE),
            "TMPDIR": str(temp),
            "PYTHONPATH": str(REPO),
            **(env or {}),
        }
        if shared_db:
            child_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{self.airflow_home / 'airflow.db'}"
        argv = [sys.executable, str(runner), str(path)]
        if host is not None:  # unshare execs the command: the process (and its group) is the same
            argv = ["unshare", "--uts", "sh", "-c", f'hostname {host} && exec "$@"', "--", *argv]
        proc = subprocess.Popen(
            argv, env=child_env, cwd=str(self.tmp_path),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        self.procs.append(proc)
        return proc, temp, home

    def run(
        self, source: str, *, timeout: float = 120.0, env: dict[str, str] | None = None, params: dict | None = None
    ) -> ChildRun:
        """Run ``source`` to the end of its process (killed, and the test failed, after ``timeout`` s)."""
        started = time.monotonic()
        proc, temp, home = self.start(source, env=env, params=params)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            pytest.fail(f"the DAG run's process did not end within {timeout:g}s:\n{out[-4000:]}")
        (self.tmp_path / f"child-{self._count}.log").write_text(out)  # for a look after a failure
        return ChildRun(proc.returncode, out, time.monotonic() - started, temp, home, ended_at=time.time())

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        kill_strays(self.tmp_path)


def kill_strays(folder: Path) -> list[int]:
    """Kill what a hard-killed run left running: the real CLI starts each plugin (the Python dynamic provider)
    in a process group of its own, so killing the run's group leaves them, orphaned, serving nobody. They
    are found by their environment, which names the test's folder. Returns their pids."""
    killed = []
    marker = str(folder).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if any(var.startswith((b"AIRFLOW_HOME=", b"PULUMI_HOME=")) and marker in var for var in environ.split(b"\0")):
            with contextlib.suppress(OSError):
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
    return killed

