"""A two-worker CeleryExecutor deployment on this machine, for the ``distributed`` tests.

What :class:`Cluster` starts, each on its own loopback port and folder under one temporary directory:

- PostgreSQL 15 (Debian's ``/usr/lib/postgresql/15/bin``, run as the ``postgres`` user) for Airflow's metadata
  and Celery's results, migrated with ``airflow db migrate``;
- ``redis-server`` as the Celery broker;
- ``fake-gcs-server`` (the suite's :class:`~tests.real_cli.gcs.FakeGcs`) behind the recording proxy, for a
  ``gs://`` backend;
- ``airflow scheduler``, ``airflow dag-processor`` and ``airflow api-server`` (one control-plane home);
- two ``airflow celery worker`` s as separate hosts: each in its own UTS, mount and PID namespace
  (``unshare``), with its own hostname (and ``/etc/hosts``), ``AIRFLOW_HOME``, ``TMPDIR``, ``PULUMI_HOME``,
  ``[pulumi] worker_dir`` and log-server port. A worker's queues are ``default`` and its own (``worker_a``,
  ``worker_b``), so a task's ``queue=`` places it. A scenario may start more (:meth:`Cluster.start_worker`),
  e.g. one whose ``pulumi`` connection lacks the passphrase.

Every Airflow process reads XCom through ``PulumiSecretXCom`` (``[core] xcom_backend``), as a deployment that
passes secret outputs downstream configures it, and has two secret values in its environment
(``APD_DIST_SECRET_TOKEN``, ``APD_DIST_SECRET_CFG``, new for each harness) for the secret-output scenario's
stack to return and its consumers to check against.

Every process is started in a session of its own and logs to ``<root>/logs/<name>.log``; :meth:`Cluster.close`
kills every process tree (a worker's whole PID namespace), stops PostgreSQL and Redis and removes the folder.
The DAGs (``tests/distributed/dags``) choose their engine by DAG id: the executables are named to every
Airflow process by ``APD_DIST_CLI_STANDIN`` and ``APD_DIST_CLI_REAL``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from airflow_pulumi_decorators.testing.engines import real_pulumi

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DAGS = Path(__file__).parent / "dags"
BIN = Path(sys.executable).parent
#: The scheduler notices a dead worker's task after this many seconds without a heartbeat (default 300).
HEARTBEAT_TIMEOUT = 20
WORKERS = ("worker-a", "worker-b")
XCOM_BACKEND = "airflow_pulumi_decorators.xcom_backend.PulumiSecretXCom"
FINISHED = ("success", "failed")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def missing_prerequisites() -> str | None:
    """Why this machine cannot run the harness, or ``None``."""
    if os.geteuid() != 0:
        return "the distributed harness runs as root (unshare for the worker hosts, PostgreSQL as the postgres user)"
    for tool in (PG_BIN / "initdb", PG_BIN / "postgres"):
        if not tool.exists():
            return f"{tool} is missing: apt-get install -y postgresql (.ci/run does)"
    if not shutil.which("redis-server"):
        return "redis-server is missing: apt-get install -y redis-server (.ci/run does)"
    if not shutil.which("unshare"):
        return "unshare (util-linux) is missing"
    try:
        import celery  # noqa: F401
        import psycopg2  # noqa: F401
        from airflow.providers.celery.executors import celery_executor  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is missing: pip install -e '.[test]'"
    probe = subprocess.run(["unshare", "--uts", "--mount", "--pid", "--fork", "--mount-proc", "true"],
                           capture_output=True, text=True)
    if probe.returncode:
        return f"unshare cannot make namespaces here: {probe.stderr.strip()}"
    return None


@dataclass
class Component:
    """One started process (tree) and its log."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []


@dataclass
class Worker:
    """A Celery worker "host"."""

    hostname: str
    home: Path
    queues: tuple[str, ...]
    component: Component | None = None

    @property
    def worker_dir(self) -> Path:
        """``[pulumi] worker_dir``: per-task PULUMI_HOMEs live in ``homes/``."""
        return self.home / "pulumi"

    @property
    def tmp(self) -> Path:
        return self.home / "tmp"

    def task_homes(self) -> list[Path]:
        return sorted((self.worker_dir / "homes").glob("task-*"))

    def task_logs(self) -> list[Path]:
        return sorted((self.home / "logs").rglob("*.log"))


@dataclass
class Cluster:
    """The whole deployment; :meth:`start` it, :meth:`close` it (always)."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="apd-dist-")))
    components: dict[str, Component] = field(default_factory=dict)
    workers: dict[str, Worker] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    gcs: Any = None
    gcs_proxy: Any = None
    gcs_bucket: str = ""
    _stopped: list[psutil.Process] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root.chmod(0o755)  # the postgres user reaches its data folder below
        self.logs = self.root / "logs"
        self.logs.mkdir()
        self.state = self.root / "shared-state"  # the shared file:// backend ("a shared filesystem")
        self.state.mkdir()
        self.signals = self.root / "signals"  # files a test creates to let a DAG's program go on
        self.signals.mkdir()
        self.pg_port, self.redis_port, self.api_port = free_port(), free_port(), free_port()
        self.passphrase = "dist-" + secrets.token_urlsafe(16)
        #: The secret-output scenario's values (a ``pulumi.Output.secret`` and a secret config value).
        self.secrets = {"APD_DIST_SECRET_TOKEN": "tok-" + secrets.token_hex(12),
                        "APD_DIST_SECRET_CFG": "pw-" + secrets.token_hex(12)}
        self.real_cli = real_pulumi()
        from airflow_pulumi_decorators.testing.standin import install_shim

        self.standin_cli = install_shim(str(self.root / "standin"))

    # -- lifecycle

    def start(self, dag_ids: Iterable[str] = ()) -> Cluster:
        began = time.monotonic()
        self._start_postgres()
        self._start_redis()
        self._start_gcs()
        self._wait_for_postgres()
        self.timings["postgres+redis+gcs"] = time.monotonic() - began
        migrate = self._airflow_env(self.root / "control")
        mark = time.monotonic()
        done = subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=migrate, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"airflow db migrate failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        self.timings["db migrate"] = time.monotonic() - mark
        mark = time.monotonic()
        control = self._airflow_env(self.root / "control")
        self._spawn("api-server", [str(BIN / "airflow"), "api-server", "-H", "127.0.0.1", "-p", str(self.api_port),
                                   "-w", "1"], control)
        self._spawn("scheduler", [str(BIN / "airflow"), "scheduler"], control)
        self._spawn("dag-processor", [str(BIN / "airflow"), "dag-processor"], control)
        for hostname, queue in zip(WORKERS, ("worker_a", "worker_b"), strict=True):
            self.start_worker(hostname, ("default", queue))
        self._wait_until(self._api_up, 120, "the api-server to answer")
        for hostname in WORKERS:
            self._wait_until(lambda h=hostname: "ready." in self.components[h].log.read_text(errors="replace"),
                             120, f"{hostname} to be ready")
        wanted = set(dag_ids)
        self._wait_until(lambda: wanted <= self.parsed_dags() or self._no_import_errors(), 120,
                         f"the DAGs {sorted(wanted)} to be parsed")
        self.timings["airflow up"] = time.monotonic() - mark
        self.timings["total"] = time.monotonic() - began
        return self

    def close(self) -> None:
        """Kill every process tree, stop the servers, remove the folder. Safe to call more than once."""
        self._stopped += [p for c in self.components.values() for p in c.tree()]
        airflow = [c for n, c in self.components.items() if n not in ("postgres", "redis")]
        for component in airflow:  # a moment to let go of the database, then no mercy: nothing here is kept
            self._signal_tree(component, signal.SIGTERM)
        self._reap(airflow, 2)
        for component in airflow:
            self._signal_tree(component, signal.SIGKILL)
        self._reap(airflow, 5)
        for proxy in (self.gcs_proxy, self.gcs):
            if proxy is not None:
                proxy.close()
        self.gcs = self.gcs_proxy = None
        servers = [c for n, c in self.components.items() if n in ("postgres", "redis")]
        for component in servers:  # SIGINT: PostgreSQL's fast shutdown
            self._signal_tree(component, signal.SIGINT if component.name == "postgres" else signal.SIGTERM)
        self._reap(servers, 15)
        for component in servers:
            self._signal_tree(component, signal.SIGKILL)
        self._reap(servers, 5)
        self.components.clear()
        if os.environ.get("APD_DIST_KEEP"):  # debugging: keep the logs, state and homes (processes are gone)
            print(f"distributed harness: kept {self.root} (APD_DIST_KEEP)")
            return
        shutil.rmtree(self.root, ignore_errors=True)

    def leftovers(self) -> list[str]:
        """Processes of ours still running: of the components (none after :meth:`close`), and every process
        the trees had when :meth:`close` began."""
        procs = [p for c in self.components.values() for p in c.tree()] + self._stopped
        alive = []
        for proc in procs:
            try:
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
            except psutil.NoSuchProcess:
                pass
        return alive

    # -- workers

    def start_worker(self, hostname: str, queues: tuple[str, ...], passphrase: bool = True) -> Worker:
        """Start a worker host consuming ``queues``; with ``passphrase=False`` its ``pulumi`` connection has no
        passphrase (a worker that was not given it)."""
        home = self.root / "hosts" / hostname
        for sub in ("tmp", "pulumi-home", "pulumi", "logs"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        hosts = home / "hosts"
        hosts.write_text(f"127.0.0.1\tlocalhost\n127.0.1.1\t{hostname}\n")
        env = self._airflow_env(home, worker=hostname)
        if not passphrase:
            env["AIRFLOW_CONN_PULUMI_SHARED"] = self._connection(f"file://{self.state}", passphrase=False)
        # A host of its own: its hostname (and /etc/hosts, so getfqdn() names it), its own pids (killing the
        # namespace's first process kills the whole "machine"), nothing else.
        script = (f"hostname {hostname} && mount --bind {hosts} /etc/hosts && "
                  f"exec {BIN / 'airflow'} celery worker -H {hostname} -q {','.join(queues)} -c 4 --without-mingle "
                  "--without-gossip")
        worker = Worker(hostname, home, queues)
        worker.component = self._spawn(hostname, ["unshare", "--uts", "--mount", "--pid", "--fork", "--kill-child",
                                                  "--mount-proc", "sh", "-c", script], env)
        self.workers[hostname] = worker
        return worker

    def kill_worker(self, hostname: str) -> None:
        """SIGKILL a worker host: every process in its PID namespace, at once (a lost node, an OOM kill)."""
        component = self.workers[hostname].component
        assert component is not None
        tree = component.tree()
        for proc in tree:
            try:
                proc.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(tree, timeout=10)

    def add_queue(self, hostname: str, queue: str) -> None:
        """Make a running worker consume ``queue`` too (Celery's remote control, through the broker)."""
        from celery import Celery

        app = Celery(broker=self.broker_url)
        try:
            replies = app.control.add_consumer(queue, destination=[f"celery@{hostname}"], reply=True, timeout=10)
        finally:
            app.close()
        if not replies:
            raise RuntimeError(f"{hostname} did not confirm consuming {queue!r}")
        self.workers[hostname].queues += (queue,)

    # -- Airflow

    @property
    def broker_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def db_url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.pg_port}/postgres"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def _airflow_env(self, home: Path, worker: str | None = None) -> dict[str, str]:
        home.mkdir(parents=True, exist_ok=True)
        keep = {k: v for k, v in os.environ.items()
                if not k.startswith(("AIRFLOW", "PULUMI", "APD_", "PYTEST")) and k not in ("TMPDIR", "HOME")}
        env = {
            **keep,
            "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")]),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__FERNET_KEY": self._secret("fernet"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG": "8",
            "AIRFLOW__CORE__XCOM_BACKEND": XCOM_BACKEND,
            "AIRFLOW__API__SECRET_KEY": self._secret("api"),
            "AIRFLOW__API_AUTH__JWT_SECRET": self._secret("jwt"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db_url,
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.db_url,
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self._port(f"logs-{worker}")),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
            "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "600",
            "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "5",
            # Every Airflow process names the engines; a DAG id says which one its tasks use.
            "APD_DIST_CLI_STANDIN": self.standin_cli,
            "APD_DIST_CLI_REAL": self.real_cli or "",
            "APD_DIST_STATE": str(self.state),
            "APD_DIST_SIGNALS": str(self.signals),
            **self.secrets,
            "AIRFLOW__PULUMI__DEFAULT_CONN_ID": "pulumi_shared",
            "AIRFLOW_CONN_PULUMI_SHARED": self._connection(f"file://{self.state}"),
            # No plugin downloads (no network): the dynamic providers' plugin ships with the CLI.
            "AIRFLOW__PULUMI__PLUGINS": "none",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "HOME": str(home),
            "TMPDIR": str(home / "tmp") if worker else tempfile.gettempdir(),
        }
        if self.gcs is not None:
            env["AIRFLOW_CONN_PULUMI_GCS"] = self._connection(f"gs://{self.gcs_bucket}/airflow")
            env["APD_DIST_GCS"] = f"gs://{self.gcs_bucket}/airflow"
        if worker:
            env["PULUMI_HOME"] = str(home / "pulumi-home")
            env["AIRFLOW__PULUMI__WORKER_DIR"] = str(home / "pulumi")
            if self.gcs_proxy is not None:
                env.update(self.gcs_proxy.client_env())
                # The gs:// backend's client needs a credential; the emulator takes any.
                env["GOOGLE_OAUTH_ACCESS_TOKEN"] = "fake-token-for-the-emulator"
        return env

    def _connection(self, backend_url: str, passphrase: bool = True) -> str:
        """A ``pulumi`` connection: the backend and the passphrase (never in the DAG files)."""
        extra = {"encryption_provider": "passphrase", "config_passphrase": self.passphrase}
        if not passphrase:
            del extra["config_passphrase"]
        return json.dumps({"conn_type": "pulumi", "host": backend_url, "extra": extra})

    def _secret(self, name: str) -> str:
        cache = self.__dict__.setdefault("_secrets", {})
        if name not in cache:
            if name == "fernet":
                from cryptography.fernet import Fernet

                cache[name] = Fernet.generate_key().decode()
            else:
                cache[name] = secrets.token_urlsafe(64)  # a JWT's HMAC key: 64 bytes or more
        return str(cache[name])

    def _port(self, name: str) -> int:
        cache = self.__dict__.setdefault("_ports", {})
        if name not in cache:
            cache[name] = free_port()
        return int(cache[name])

    def _api_up(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.api}/api/v2/monitor/health", timeout=2) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """One REST call to the api-server (the simple auth manager's all-admins mode: no token needed)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.api}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from exc

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any] | None = None) -> str:
        self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns",
                     {"dag_run_id": run_id, "logical_date": None, "conf": conf or {}})
        return run_id

    # -- the metadata database, read directly (quicker than the REST API for polling)

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.pg_port, user="postgres", dbname="postgres")
        try:
            with conn, conn.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall()) if cur.description else []
        finally:
            conn.close()

    def parsed_dags(self) -> set[str]:
        try:
            return {row[0] for row in self.query("select dag_id from dag where is_stale is not true")}
        except Exception:  # noqa: BLE001 - tables not there yet
            return set()

    def _no_import_errors(self) -> bool:
        """False; raises with the errors when a DAG file of ours failed to parse."""
        try:
            errors = self.query("select filename, stacktrace from import_error")
        except Exception:  # noqa: BLE001 - not migrated yet
            return False
        if errors:
            raise RuntimeError("DAG files failed to parse:\n" + "\n".join(f"{f}:\n{t}" for f, t in errors))
        return False

    def finished_at(self, runs: Iterable[tuple[str, str]]) -> float:
        """When the last of ``runs`` ended (a Unix time, from Airflow's record)."""
        ends = [self.query("select end_date from dag_run where dag_id=%s and run_id=%s", *r)[0][0] for r in runs]
        return max(end.timestamp() for end in ends)

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        rows = self.query("select state from dag_run where dag_id=%s and run_id=%s", dag_id, run_id)
        return rows[0][0] if rows else None

    def wait_runs(self, runs: Iterable[tuple[str, str]], timeout: float) -> dict[tuple[str, str], str]:
        """Wait until every ``(dag_id, run_id)`` has finished; their states."""
        runs = list(runs)
        states: dict[tuple[str, str], str] = {}
        self._wait_until(lambda: all((states.__setitem__(r, self.run_state(*r) or "") or states[r]) in FINISHED
                                     for r in runs), timeout, f"the runs {runs} to finish", interval=1.0)
        return states

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        rows = self.query("select task_id, map_index, state, hostname, try_number, queue from task_instance "
                          "where dag_id=%s and run_id=%s order by task_id, map_index", dag_id, run_id)
        cols = ("task_id", "map_index", "state", "hostname", "try_number", "queue")
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        """Every try of a task (Airflow's task_instance_history, then the current one)."""
        cols = ("try_number", "state", "hostname")
        old = self.query("select try_number, state, hostname from task_instance_history where dag_id=%s and "
                         "run_id=%s and task_id=%s order by try_number", dag_id, run_id, task_id)
        now = self.query("select try_number, state, hostname from task_instance where dag_id=%s and run_id=%s "
                         "and task_id=%s", dag_id, run_id, task_id)
        return [dict(zip(cols, r, strict=True)) for r in old + now]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        rows = self.query("select value from xcom where dag_id=%s and run_id=%s and task_id=%s and key=%s and "
                          "map_index=%s", dag_id, run_id, task_id, key, map_index)
        if not rows:
            raise KeyError(f"no XCom {key!r} of {dag_id}/{run_id}/{task_id}[{map_index}]")
        value = rows[0][0]
        return value  # psycopg2 decodes the JSON column

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1) -> str:
        """The task's log file, from whichever worker ran that try."""
        parts = [f"dag_id={dag_id}", f"run_id={run_id}", f"task_id={task_id}"]
        if map_index >= 0:
            parts.append(f"map_index={map_index}")
        texts = []
        for worker in self.workers.values():
            path = worker.home / "logs" / Path(*parts) / f"attempt={try_number}.log"
            if path.exists():
                texts.append(path.read_text(errors="replace"))
        return "\n".join(texts)

    def pg_dump(self) -> str:
        """The whole metadata database (every table, schema and data) as ``pg_dump`` writes it."""
        done = subprocess.run([str(PG_BIN / "pg_dump"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres",
                               "--no-owner", "postgres"], capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"pg_dump failed: {done.stderr[-2000:]}")
        return done.stdout

    def share_logs(self, dag_id: str, run_id: str) -> None:
        """Show the api-server a run's task logs as a shared log drive would: each log file of the run, on the
        worker that wrote it, hard-linked into the api-server's ``base_log_folder``. (Airflow reads a finished
        task's log from its own log folder -- symlinks out of it are ignored -- else from the worker's log server
        at ``<ti.hostname>:<its own worker_log_server_port>``, which names no host or port of this machine's
        workers.)"""
        run_dir = Path(f"dag_id={dag_id}", f"run_id={run_id}")
        shared = self.root / "control" / "logs" / run_dir
        for worker in self.workers.values():
            source = worker.home / "logs" / run_dir
            for log in sorted(source.rglob("*.log")):
                link = shared / log.relative_to(source)
                link.parent.mkdir(parents=True, exist_ok=True)
                if not link.exists():
                    os.link(log, link)

    # -- what a failure report shows

    def tails(self, lines: int = 40) -> str:
        return "\n\n".join(f"----- {c.name} ({c.log}) -----\n{c.tail(lines)}" for c in self.components.values())

    # -- internals

    def _spawn(self, name: str, argv: list[str], env: dict[str, str], **kwargs: Any) -> Component:
        log = self.logs / f"{name}.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True, cwd=str(self.root), **kwargs)
        component = Component(name, process, log)
        self.components[name] = component
        return component

    def _start_postgres(self) -> None:
        data, sockets = self.root / "pg" / "data", self.root / "pg" / "run"
        sockets.mkdir(parents=True)
        shutil.chown(self.root / "pg", "postgres", "postgres")
        shutil.chown(sockets, "postgres", "postgres")
        done = subprocess.run([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                               "--no-sync", "-E", "UTF8"], user="postgres", group="postgres",
                              capture_output=True, text=True, cwd=str(self.root))
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
        # A throw-away database: no fsync, no durability to pay for.
        self._spawn("postgres", [str(PG_BIN / "postgres"), "-D", str(data), "-p", str(self.pg_port),
                                 "-k", str(sockets), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                                 "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                                 "-c", "max_connections=300"],
                    dict(os.environ, LC_ALL="C"), user="postgres", group="postgres")

    def _wait_for_postgres(self) -> None:
        def ready() -> bool:
            done = subprocess.run([str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.pg_port),
                                   "-U", "postgres"], capture_output=True)
            return done.returncode == 0

        self._wait_until(ready, 60, "PostgreSQL to accept connections", interval=0.1)

    def _start_redis(self) -> None:
        folder = self.root / "redis"
        folder.mkdir()
        self._spawn("redis", ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", str(folder)], dict(os.environ))

    def _start_gcs(self) -> None:
        from tests.real_cli.gcs import FakeGcs, RecordingProxy

        folder = self.root / "gcs"
        folder.mkdir()
        self.gcs = FakeGcs(self.logs / "fake-gcs-server.log").start()
        self.gcs_proxy = RecordingProxy(self.gcs.address, folder).start()
        self.gcs_bucket = "apd-dist-" + secrets.token_hex(4)
        self.gcs.create_bucket(self.gcs_bucket)

    def _wait_until(self, condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.5) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            for component in self.components.values():
                if component.process.poll() is not None and component.name in ("postgres", "redis", "scheduler",
                                                                                 "api-server", "dag-processor"):
                    raise RuntimeError(f"{component.name} exited ({component.process.returncode}) while waiting "
                                       f"for {what}:\n{component.tail(60)}")
            time.sleep(interval)
        raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")

    @staticmethod
    def _signal_tree(component: Component, sig: int) -> None:
        for proc in reversed(component.tree()):  # children first: nothing re-parents in between
            try:
                proc.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        try:
            os.killpg(component.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    @staticmethod
    def _reap(components: list[Component], timeout: float) -> None:
        procs = [p for c in components for p in c.tree()]
        psutil.wait_procs(procs, timeout=timeout)
        for component in components:
            try:
                component.process.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass
