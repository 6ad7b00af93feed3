"""Where a run's engine works, per environment and connection: env vars, masking, stack names, PULUMI_HOME
(:func:`airflow_pulumi_decorators.prepare.backend.resolve`).

Backends the stand-in cannot serve (gs://, s3://, Pulumi Cloud) are tested here, at the level of the
resolved backend and run context; file:// connections also run end to end (tests/integration).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from airflow_pulumi_decorators import Environment
from airflow_pulumi_decorators.errors import ConfigurationError
from airflow_pulumi_decorators.prepare.backend import qualify_stack
from airflow_pulumi_decorators.prepare.backend import resolve as resolve_backend

TOKEN = "pul-0c2b2e4a9d1f6e3b8a7c5d4e3f2a1b0c9d8e7f6a"
PASSPHRASE = "conn-passphrase-7d3e1a"
KMS = "gcpkms://projects/acme/locations/europe-west1/keyRings/pulumi/cryptoKeys/state"


@pytest.fixture(autouse=True)
def worker(tmp_path, monkeypatch):
    """A clean worker: no PULUMI_* variables, worker dirs under tmp."""
    for var in ("PULUMI_BACKEND_URL", "PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE",
                "PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_HOME"):
        monkeypatch.delenv(var, raising=False)
    for opt in ("BACKEND_URL", "DEFAULT_CONN_ID", "PULUMI_HOME", "PLUGIN_CACHE_DIR", "REFRESH_BEFORE_UP"):
        monkeypatch.delenv(f"AIRFLOW__PULUMI__{opt}", raising=False)
    monkeypatch.setenv("AIRFLOW__PULUMI__WORKER_DIR", str(tmp_path / "worker"))
    return tmp_path / "worker"


def add_conn(monkeypatch, conn_id, **fields):
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "pulumi", **fields}))


class Resolved(SimpleNamespace):
    """What the task's engine gets, by the names these tests read; its repr is the resolved backend's own."""

    def __repr__(self) -> str:
        return repr(self.where)


@contextlib.contextmanager
def engine_settings(env, **kwargs):
    with resolve_backend(env, **kwargs) as where:
        ctx = where.context
        home = ctx.pulumi_home
        yield Resolved(
            where=where,
            stack=where.stack, conn_id=where.conn_id, backend_url=ctx.backend_text, env=ctx.env,
            secrets_provider=ctx.secrets_provider, pulumi_home=home,
            plugin_cache_dir=os.path.realpath(os.path.join(home, "plugins")) if home else None,
        )


def resolve(env, **kwargs):
    masked: list[str] = []
    with engine_settings(env, mask=masked.append, **kwargs) as cfg:
        home_existed = cfg.pulumi_home is not None and os.path.isdir(cfg.pulumi_home)
        return cfg, masked, home_existed


def test_gcs_backend_with_kms_secrets_from_a_connection(monkeypatch):
    add_conn(monkeypatch, "pulumi_gcs", host="gs://acme-state/pulumi", extra={"encryption_provider": KMS})
    cfg, masked, _ = resolve(Environment(stack="dev", pulumi_conn_id="pulumi_gcs"))
    assert cfg.backend_url == "gs://acme-state/pulumi"
    assert cfg.env["PULUMI_BACKEND_URL"] == "gs://acme-state/pulumi"
    assert cfg.secrets_provider == KMS and cfg.stack == "dev" and cfg.conn_id == "pulumi_gcs"
    # The GCP identity's variables (GOOGLE_OAUTH_ACCESS_TOKEN ...) are merged over these by the operator:
    # nothing here may set or remove a Google variable, or the gs:// backend would not use the identity.
    assert not [k for k in cfg.env if k.startswith(("GOOGLE", "CLOUDSDK", "GCE"))]
    assert masked == []


def test_s3_and_azblob_backends(monkeypatch):
    add_conn(monkeypatch, "pulumi_s3", host="s3://acme-state?region=eu-west-1",
             extra={"encryption_provider": "awskms://alias/pulumi", })
    add_conn(monkeypatch, "pulumi_az", host="azblob://state", extra={"config_passphrase": PASSPHRASE})
    s3, _, _ = resolve(Environment(stack="dev"), pulumi_conn_id="pulumi_s3")
    az, masked, _ = resolve(Environment(stack="dev"), pulumi_conn_id="pulumi_az")
    assert s3.env["PULUMI_BACKEND_URL"] == "s3://acme-state?region=eu-west-1" and s3.secrets_provider == "awskms://alias/pulumi"
    assert az.env["PULUMI_BACKEND_URL"] == "azblob://state" and az.env["PULUMI_CONFIG_PASSPHRASE"] == PASSPHRASE
    assert az.env["PULUMI_CONFIG_PASSPHRASE_FILE"] is None  # the connection's passphrase, not a worker file
    assert masked == [PASSPHRASE]


def test_pulumi_cloud_token_org_and_fully_qualified_names(monkeypatch):
    add_conn(monkeypatch, "pulumi_cloud", host="https://api.pulumi.com", login="acme", password=TOKEN)
    env = Environment(stack="prod", pulumi_conn_id="pulumi_cloud")
    cfg, masked, _ = resolve(env, project="analytics")
    assert cfg.stack == "acme/analytics/prod"
    assert cfg.env["PULUMI_ACCESS_TOKEN"] == TOKEN and cfg.env["PULUMI_BACKEND_URL"] == "https://api.pulumi.com"
    assert masked == [TOKEN]
    assert TOKEN not in repr(cfg)
    assert resolve(env)[0].stack == "acme/prod"  # project unknown: org/stack, Pulumi fills in the project
    already = Environment(stack="acme/analytics/prod", pulumi_conn_id="pulumi_cloud")
    assert resolve(already, project="analytics")[0].stack == "acme/analytics/prod"


def test_fully_qualified_names_are_checked():
    assert qualify_stack("dev", kind="cloud", organization=None) == "dev"
    assert qualify_stack("other/dev", kind="cloud", organization=None, project="p") == "other/p/dev"
    with pytest.raises(ConfigurationError, match="organization 'other'.*field 'login' \\(Organization\\) is 'acme'"):
        qualify_stack("other/p/dev", kind="cloud", organization="acme")
    with pytest.raises(ConfigurationError, match="names project 'q'.*project is 'p'"):
        qualify_stack("acme/q/dev", kind="cloud", organization="acme", project="p")
    assert qualify_stack("organization/p/dev", kind="file", organization=None, project="p") == "organization/p/dev"
    with pytest.raises(ConfigurationError, match="only accept the organization 'organization'"):
        qualify_stack("acme/p/dev", kind="bucket", organization=None)


def test_pulumi_cloud_without_any_token_fails_naming_the_field(monkeypatch):
    add_conn(monkeypatch, "pulumi_cloud", host="https://api.pulumi.com", login="acme")
    with pytest.raises(
        ConfigurationError, match=r"field 'password' \(Access token\) of the pulumi connection 'pulumi_cloud'"
    ):
        resolve(Environment(stack="dev"), pulumi_conn_id="pulumi_cloud")
    monkeypatch.setenv("PULUMI_ACCESS_TOKEN", TOKEN)  # the worker's own token is fine
    cfg, masked, _ = resolve(Environment(stack="dev"), pulumi_conn_id="pulumi_cloud")
    assert "PULUMI_ACCESS_TOKEN" not in cfg.env and masked == [TOKEN]


def test_passphrase_provider_without_a_passphrase_fails_naming_the_extra(monkeypatch):
    add_conn(monkeypatch, "pulumi_file", host="file:///srv/state")
    with pytest.raises(ConfigurationError, match="extra 'config_passphrase', or PULUMI_CONFIG_PASSPHRASE"):
        resolve(Environment(stack="dev"), pulumi_conn_id="pulumi_file")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE_FILE", "/run/secrets/pulumi")  # the worker's own is fine
    env = dict(resolve(Environment(stack="dev"), pulumi_conn_id="pulumi_file")[0].env)
    env.pop("PULUMI_HOME")
    assert env == {"PULUMI_BACKEND_URL": "file:///srv/state"}


def test_environments_use_different_connections_and_backends(monkeypatch):
    add_conn(monkeypatch, "pulumi_dev", host="file:///srv/dev", extra={"config_passphrase": "dev-passphrase"})
    add_conn(monkeypatch, "pulumi_prod", host="gs://acme-prod-state", extra={"encryption_provider": KMS})
    dev, _, _ = resolve(Environment(stack="dev", pulumi_conn_id="pulumi_dev"), pulumi_conn_id="pulumi_prod")
    prod, _, _ = resolve(Environment(stack="prod"), pulumi_conn_id="pulumi_prod")
    assert dev.backend_url == "file:///srv/dev" and dev.conn_id == "pulumi_dev"  # the environment's wins
    assert prod.backend_url == "gs://acme-prod-state" and prod.secrets_provider == KMS


def test_backend_precedence(monkeypatch, airflow_home):
    add_conn(monkeypatch, "c", host="gs://from-connection", extra={"encryption_provider": KMS})
    monkeypatch.setenv("PULUMI_BACKEND_URL", "gs://from-worker-env")
    monkeypatch.setenv("AIRFLOW__PULUMI__BACKEND_URL", "gs://from-config")
    assert resolve(Environment(stack="d", backend_url="gs://from-environment"), pulumi_conn_id="c")[0].backend_url == "gs://from-environment"
    assert resolve(Environment(stack="d"), pulumi_conn_id="c")[0].backend_url == "gs://from-connection"
    assert resolve(Environment(stack="d"))[0].backend_url == "gs://from-worker-env"
    monkeypatch.delenv("PULUMI_BACKEND_URL")
    assert resolve(Environment(stack="d"))[0].backend_url == "gs://from-config"
    monkeypatch.delenv("AIRFLOW__PULUMI__BACKEND_URL")
    assert resolve(Environment(stack="d"))[0].backend_url.startswith("file://" + str(airflow_home))


def test_bad_backend_from_worker_env_or_config_is_named(monkeypatch):
    monkeypatch.setenv("PULUMI_BACKEND_URL", "not-a-url")
    with pytest.raises(ConfigurationError, match="PULUMI_BACKEND_URL on the worker='not-a-url'"):
        resolve(Environment(stack="d"))
    monkeypatch.delenv("PULUMI_BACKEND_URL")
    monkeypatch.setenv("AIRFLOW__PULUMI__BACKEND_URL", "gs://")
    with pytest.raises(ConfigurationError, match=r"\[pulumi\] backend_url \(AIRFLOW__PULUMI__BACKEND_URL\)"):
        resolve(Environment(stack="d"))


def test_default_conn_id_from_config(monkeypatch):
    add_conn(monkeypatch, "pulumi_default", host="file:///srv/s", extra={"config_passphrase": PASSPHRASE})
    monkeypatch.setenv("AIRFLOW__PULUMI__DEFAULT_CONN_ID", "pulumi_default")
    cfg, masked, _ = resolve(Environment(stack="d"))
    assert cfg.conn_id == "pulumi_default" and masked == [PASSPHRASE]
    monkeypatch.setenv("AIRFLOW__PULUMI__DEFAULT_CONN_ID", "missing_conn")
    with pytest.raises(ConfigurationError, match=r"'missing_conn' \(from \[pulumi\] default_conn_id"):
        resolve(Environment(stack="d"))


def test_per_task_home_links_the_shared_plugin_cache_and_is_removed(worker):
    cfg, _, existed = resolve(Environment(stack="d", backend_url="file:///srv/s"))
    assert existed and cfg.env["PULUMI_HOME"] == cfg.pulumi_home
    assert os.path.dirname(cfg.pulumi_home) == str(worker / "homes")
    assert cfg.plugin_cache_dir == str(worker / "plugins")
    assert not os.path.exists(cfg.pulumi_home)  # removed after the task
    assert (worker / "plugins").is_dir()  # the shared cache stays


def test_per_task_home_is_removed_on_failure_and_never_reaches_into_the_cache(worker):
    (worker / "plugins").mkdir(parents=True)
    (worker / "plugins" / "resource-random-v4.21.4").mkdir()
    homes = []
    with pytest.raises(RuntimeError), engine_settings(Environment(stack="d", backend_url="file:///srv/s")) as cfg:
        homes.append(cfg.pulumi_home)
        assert os.path.realpath(os.path.join(cfg.pulumi_home, "plugins")) == str(worker / "plugins")
        assert os.listdir(os.path.join(cfg.pulumi_home, "plugins")) == ["resource-random-v4.21.4"]
        raise RuntimeError("task failed")
    assert not os.path.exists(homes[0])
    assert (worker / "plugins" / "resource-random-v4.21.4").is_dir()


def test_two_concurrent_tasks_get_distinct_homes(worker):
    with (
        engine_settings(Environment(stack="a", backend_url="file:///s")) as a,
        engine_settings(Environment(stack="b", backend_url="file:///s")) as b,
    ):
        assert a.pulumi_home != b.pulumi_home
        assert os.path.realpath(os.path.join(a.pulumi_home, "plugins")) == os.path.realpath(
            os.path.join(b.pulumi_home, "plugins"))
    assert os.listdir(worker / "homes") == []


def test_inherit_strategy_leaves_pulumi_home_alone(monkeypatch):
    monkeypatch.setenv("AIRFLOW__PULUMI__PULUMI_HOME", "inherit")
    cfg, _, _ = resolve(Environment(stack="d", backend_url="file:///s"))
    assert cfg.pulumi_home is None and "PULUMI_HOME" not in cfg.env
    monkeypatch.setenv("AIRFLOW__PULUMI__PULUMI_HOME", "shared")
    with pytest.raises(ConfigurationError, match=r"\[pulumi\] pulumi_home .*'shared' is not one of per_task, inherit"):
        resolve(Environment(stack="d", backend_url="file:///s"))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return proc.pid


def _left_home(homes, name, pid, host=None):
    """A per-task home as a task left it (owner file, plugins link to the shared cache, workspace state)."""
    home = homes / name
    (home / "workspaces").mkdir(parents=True)
    (home / "workspaces" / "w.json").write_text("{}")
    (home / ".airflow-owner.json").write_text(json.dumps({"host": host or socket.gethostname(), "pid": pid}))
    os.symlink(homes.parent / "plugins", home / "plugins")
    return home


def test_homes_of_gone_task_processes_are_removed_when_the_next_task_makes_its_own(worker):
    plugin = worker / "plugins" / "resource-random-v4.21.4"
    plugin.mkdir(parents=True)
    homes = worker / "homes"
    killed = _left_home(homes, "task-killed", _dead_pid())  # a hard-killed task never removes its home
    running = _left_home(homes, "task-running", os.getpid())
    remote = _left_home(homes, "task-remote", _dead_pid(), host="another-host")  # a pid we cannot judge
    unowned = homes / "task-unowned"  # a home being made right now, or by an older version
    unowned.mkdir()
    outside = worker / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    os.symlink(outside, homes / "task-link")  # never followed
    with engine_settings(Environment(stack="d", backend_url="file:///srv/s")) as cfg:
        assert json.loads((Path(cfg.pulumi_home) / ".airflow-owner.json").read_text()) == {
            "host": socket.gethostname(), "pid": os.getpid()}
        assert not killed.exists()
        assert running.is_dir() and remote.is_dir() and unowned.is_dir() and (homes / "task-link").is_symlink()
    assert plugin.is_dir() and (outside / "keep").exists()  # the shared cache and what a link points at stay
    assert sorted(p.name for p in homes.iterdir()) == ["task-link", "task-remote", "task-running", "task-unowned"]
