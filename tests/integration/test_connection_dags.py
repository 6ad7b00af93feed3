"""``pulumi`` connections end to end (real Airflow ``dag.test()``, real Automation API, in-process stand-in).

The stand-in serves only file:// backends with the passphrase provider, so these use two file://
connections; gs://, s3:// and Pulumi Cloud are covered at the level of the resolved settings
(tests/test_backend.py).
"""

from __future__ import annotations

import json
import os

import pytest

from tests.dagrun import all_text_under

pytestmark = pytest.mark.integration

DEV_PASSPHRASE = "dev-conn-passphrase-5c1f9a"
PROD_PASSPHRASE = "prod-conn-passphrase-8e2d7b"
PROD_TOKEN = "pul-51de0c4b7a9f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"


@pytest.fixture
def two_backends(tmp_path, monkeypatch, backend):
    """Two file:// backends behind two connections; the worker has no passphrase of its own."""
    dev, prod = tmp_path / "dev-state", tmp_path / "prod-state"
    dev.mkdir()
    prod.mkdir()
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    monkeypatch.setenv("AIRFLOW_CONN_PULUMI_DEV", json.dumps(
        {"conn_type": "pulumi", "host": f"file://{dev}", "extra": {"config_passphrase": DEV_PASSPHRASE}}))
    # A token on a file:// backend is passed through (ESC users have one); it must leak nowhere either.
    monkeypatch.setenv("AIRFLOW_CONN_PULUMI_PROD", json.dumps(
        {"conn_type": "pulumi", "host": f"file://{prod}", "password": PROD_TOKEN,
         "extra": {"encryption_provider": "passphrase", "config_passphrase": PROD_PASSPHRASE}}))
    monkeypatch.setenv("AIRFLOW__PULUMI__WORKER_DIR", str(tmp_path / "worker"))
    return dev, prod


def test_two_environments_on_two_backends_through_two_connections(run_dag_file, two_backends, tmp_path):
    dev, prod = two_backends
    dev_run = run_dag_file("two_connections", run_conf={"env": "dev"})
    prod_run = run_dag_file("two_connections", run_conf={"env": "prod"})
    for run, stack in ((dev_run, "dev"), (prod_run, "prod")):
        assert run.state == "success", run.output[-3000:]
        infra = run.xcom("infra")
        assert infra == {"stack": stack, "prefix": stack, "password": infra["password"]}
        assert infra["password"]["__pulumi_secret_output_withheld__"] == 1  # withheld, never the value
    assert (dev / ".pulumi" / "stacks" / "conns" / "dev.json").exists()
    assert (prod / ".pulumi" / "stacks" / "conns" / "prod.json").exists()
    assert not (dev / ".pulumi" / "stacks" / "conns" / "prod.json").exists()
    assert not (dev_run.backend / ".pulumi" / "stacks").exists()  # the connection beat PULUMI_BACKEND_URL
    assert f"backend=file://{prod}" in prod_run.output
    # Per-task PULUMI_HOMEs were used and removed; the plugin cache stays.
    assert os.listdir(tmp_path / "worker" / "homes") == []
    assert (tmp_path / "worker" / "plugins").is_dir()

    # Leak search: passphrases and the token appear in no log, XCom, rendered field or state file.
    everything = ""
    for run in (dev_run, prod_run):
        everything += run.output + json.dumps(run.xcoms) + json.dumps(run.rendered, default=str)
    everything += all_text_under(dev, prod, tmp_path / "worker")
    for secret in (DEV_PASSPHRASE, PROD_PASSPHRASE, PROD_TOKEN, "pw-dev-31a4b", "pw-prod-9c2e"):
        assert secret not in everything, secret


def test_the_connection_passphrase_is_the_one_the_engine_uses(run_dag_file, two_backends, monkeypatch):
    dev, _ = two_backends
    assert run_dag_file("two_connections", run_conf={"env": "dev"}).state == "success"
    monkeypatch.setenv("AIRFLOW_CONN_PULUMI_DEV", json.dumps(
        {"conn_type": "pulumi", "host": f"file://{dev}", "extra": {"config_passphrase": "a-different-passphrase"}}))
    again = run_dag_file("two_connections", run_conf={"env": "dev"})
    assert again.task_states["infra"] == "failed"
    assert "incorrect passphrase" in again.output


def test_bad_connection_fails_the_task_naming_the_field(run_dag_file, two_backends, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PULUMI_DEV", json.dumps({"conn_type": "pulumi", "host": "gs:/typo"}))
    result = run_dag_file("two_connections", run_conf={"env": "dev"})
    assert result.task_states["infra"] == "failed"
    assert "Airflow connection 'pulumi_dev' field 'host' (Backend URL)='gs:/typo'" in result.output
