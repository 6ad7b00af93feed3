"""A real Airflow on this machine for the browser tests: ``airflow api-server``, ``scheduler`` and
``dag-processor`` with the LocalExecutor on a SQLite database, each on its own loopback port and folder under
one temporary directory, the simple auth manager with named users (``tests/ui/auth.py``), the stacks on a
``file://`` backend. Lighter than ``tests/distributed`` (no PostgreSQL, Redis or Celery); its process handling
(:class:`~tests.distributed.harness.Component`, the tree kill) is that harness's.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_pulumi_decorators.testing.dagrun import PASSPHRASE
from tests.dagfiles import DAGS
from tests.distributed.harness import Cluster, Component, free_port
from tests.ui.auth import USERS, auth_environment

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]


@dataclass
class LocalAirflow:
    """Start it (:meth:`start`), :meth:`close` it (always). ``dags`` maps a DAG id to the DAG file of
    ``tests/integration/dags`` it is a copy of and that file's parameters."""

    dags: dict[str, tuple[str, dict[str, Any]]]
    denied: str = ""
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="apd-ui-")))
    components: dict[str, Component] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.logs = self.root / "logs"
        self.dags_folder = self.root / "dags"
        self.state = self.root / "state"
        for folder in (self.logs, self.dags_folder, self.state, self.root / "home"):
            folder.mkdir()
        self.api_port = free_port()
        self._tokens: dict[str, str] = {}
        for dag_id, (name, params) in self.dags.items():
            (self.dags_folder / f"{dag_id}.py").write_text((DAGS / f"{name}.py").read_text())
            (self.dags_folder / f"{dag_id}.json").write_text(json.dumps({"engine": "standin", **params}))

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items()
                if not k.startswith(("AIRFLOW", "PULUMI", "APD_", "PYTEST")) and k not in ("HOME",)}
        home = self.root / "home"
        return {
            **keep,
            "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")]),
            # The DAG files import tests.integration.dags.dagparams; the api-server the test auth manager.
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
            "HOME": str(home),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__FERNET_KEY": self._secret("fernet"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api}/execution/",
            "AIRFLOW__API__SECRET_KEY": self._secret("api"),
            "AIRFLOW__API__BASE_URL": self.api,
            "AIRFLOW__API_AUTH__JWT_SECRET": self._secret("jwt"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.root / 'airflow.db'}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.logs / "tasks"),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
            "AIRFLOW__PULUMI__PLUGINS": "none",
            "PULUMI_BACKEND_URL": f"file://{self.state}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            **auth_environment(self.root, self.denied),
        }

    def start(self) -> LocalAirflow:
        began = time.monotonic()
        env = self.env()
        done = subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True,
                              cwd=str(self.root))
        if done.returncode:
            raise RuntimeError(f"airflow db migrate failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        self.timings["db migrate"] = time.monotonic() - began
        self._spawn("api-server", [str(BIN / "airflow"), "api-server", "-H", "127.0.0.1", "-p", str(self.api_port),
                                   "-w", "1"], env)
        self._spawn("scheduler", [str(BIN / "airflow"), "scheduler"], env)
        self._spawn("dag-processor", [str(BIN / "airflow"), "dag-processor"], env)
        self._wait_until(self._api_up, 120, "the api-server to answer")
        self._wait_until(lambda: set(self.dags) <= self.parsed_dags(), 120, f"the DAGs {sorted(self.dags)} parsed")
        self.timings["airflow up"] = time.monotonic() - began
        return self

    def close(self) -> None:
        """Kill every process tree and remove the folder (``APD_UI_KEEP=1`` keeps it for debugging)."""
        components = list(self.components.values())
        for component in components:
            Cluster._signal_tree(component, signal.SIGTERM)
        Cluster._reap(components, 5)
        for component in components:
            Cluster._signal_tree(component, signal.SIGKILL)
        Cluster._reap(components, 5)
        self.components.clear()
        if os.environ.get("APD_UI_KEEP"):
            print(f"ui harness: kept {self.root}")
            return
        shutil.rmtree(self.root, ignore_errors=True)

    # -- the REST API (as alice, the admin) and the view's API

    def token(self, user: str) -> str:
        if user not in self._tokens:
            body = json.dumps({"username": user, "password": USERS[user][1]}).encode()
            req = urllib.request.Request(f"{self.api}/auth/token", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as response:
                self._tokens[user] = json.loads(response.read())["access_token"]
        return self._tokens[user]

    def request(self, method: str, path: str, body: Any = None, *, user: str = "alice") -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.api}{path}", data=data, method=method, headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {self.token(user)}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from exc

    def parsed_dags(self) -> set[str]:
        try:
            return {d["dag_id"] for d in self.request("GET", "/api/v2/dags?limit=100")["dags"]}
        except (RuntimeError, OSError):
            return set()

    def trigger(self, dag_id: str) -> str:
        run_id = f"ui_{secrets.token_hex(4)}"
        self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"dag_run_id": run_id, "logical_date": None})
        return run_id

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        self._wait_until(condition, timeout, what)

    def tails(self, lines: int = 40) -> str:
        return "\n\n".join(f"----- {c.name} -----\n{c.tail(lines)}" for c in self.components.values())

    # -- internals

    # The distributed harness's: a deployment's generated keys, the api-server's health, a logged process.
    _secret = Cluster._secret
    _api_up = Cluster._api_up
    _spawn = Cluster._spawn

    def _wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            for component in self.components.values():
                if component.process.poll() is not None:
                    raise RuntimeError(f"{component.name} exited ({component.process.returncode}) while waiting "
                                       f"for {what}:\n{component.tail(60)}")
            time.sleep(0.5)
        raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.tails()}")
