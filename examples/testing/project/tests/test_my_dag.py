"""Testing a DAG that uses @pulumi_stack, offline: no cloud, no Pulumi account, nothing beyond 127.0.0.1.

Needs `pip install "airflow-pulumi-decorators[testing]"` and `apd_isolated_airflow_home = true` in the
project's pytest configuration (../pyproject.toml).
"""

from __future__ import annotations

import json

import pytest

from airflow_pulumi_decorators.testing.mocks import run_program
from dags.analytics_storage import analytics_storage_dag, storage

DEPLOYER = "deployer@acme-dev.iam.gserviceaccount.com"


@pytest.fixture
def gcp_deployer(apd_fake_google, apd_subject_token_file, tmp_path, monkeypatch):
    """The DAG's `gcp_deployer` connection, pointed at the fake Google token server: workload identity
    federation with the fake's subject token, then impersonation of DEPLOYER."""
    config = tmp_path / "wif-config.json"
    config.write_text(json.dumps(
        apd_fake_google.external_account_config(subject_token_file=apd_subject_token_file, impersonate=DEPLOYER)
    ))
    connection = {"conn_type": "google_cloud_platform", "extra": {"credential_config_file": str(config)}}
    monkeypatch.setenv("AIRFLOW_CONN_GCP_DEPLOYER", json.dumps(connection))
    return apd_fake_google


# Runs once per engine: the in-process stand-in and the `pulumi-standin` executable.
@pytest.mark.apd_engines("standin", "standin-exe")
def test_the_dag_deploys_the_bucket_with_a_short_lived_credential(apd_dag_runner, gcp_deployer):
    result = apd_dag_runner.run(analytics_storage_dag)

    assert result.state == "success", result.output[-3000:]
    assert result.task_states == {"storage": "success", "announce": "success"}
    # The stack outputs are the task's XCom, and flow to the next task.
    assert result.xcom("storage") == {"bucket": "acme-dev-raw-eu", "retention_days": 7}
    assert result.xcom("announce") == "loading into gs://acme-dev-raw-eu"
    # What the engine recorded in the stack state.
    [bucket] = result.resources("analytics-storage", "dev")
    assert (bucket.type, bucket.name) == ("gcp:storage/bucket:Bucket", "raw")
    assert bucket.inputs["location"] == "EU"
    assert result.operations == ["up"]
    # One STS exchange, one impersonation; the engine got an access token, never a key file.
    assert [request.endpoint for request in gcp_deployer.requests] == ["sts", "iam"]
    assert "GOOGLE_OAUTH_ACCESS_TOKEN" in result.env_names
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in result.env_names
    # The token appears nowhere: not in the task logs, not in XCom.
    for token in gcp_deployer.issued_tokens():
        assert token not in result.output
        assert token not in json.dumps(result.xcoms)


def test_one_task_with_what_it_needs(apd_dag_runner, gcp_deployer):
    result = apd_dag_runner.run_task(analytics_storage_dag, "storage")

    assert result.task_states == {"storage": "success"}  # `announce`, downstream, did not run
    assert result.xcom("storage")["bucket"] == "acme-dev-raw-eu"


def test_the_program_alone_on_pulumi_mocks():
    # No Airflow run and no engine: milliseconds per call.
    run = run_program(storage, "US", config={"gcp:project": "acme-dev", "storage:retention_days": "30"}, stack="prod")

    bucket = run.resource("raw")
    assert bucket.inputs["name"] == "acme-prod-raw-us"
    assert bucket.inputs["lifecycleRules"] == [{"action": {"type": "Delete"}, "condition": {"age": 30}}]
    assert run.outputs == {"bucket": "acme-prod-raw-us", "retention_days": 30}
