"""The DAG under test in ``examples/testing/test_my_dag.py``: a bucket per environment, deployed with a
short-lived credential from the ``gcp_deployer`` connection, and a task that uses the bucket's name."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from airflow_pulumi_decorators import Environment, pulumi_stack
from airflow_pulumi_decorators.identity import identity_from_connection

ENVIRONMENTS = {
    "dev": Environment(
        stack="dev",
        config={"gcp:project": "acme-dev", "storage:retention_days": "7"},
        identity=identity_from_connection("gcp_deployer"),
    ),
}


@pulumi_stack(project="analytics-storage", environments=ENVIRONMENTS, environment="{{ params.env }}")
def storage(region: str):
    import pulumi
    import pulumi_gcp as gcp

    retention = pulumi.Config("storage").require_int("retention_days")
    bucket = gcp.storage.Bucket(
        "raw",
        name=f"acme-{pulumi.get_stack()}-raw-{region.lower()}",
        location=region,
        lifecycle_rules=[{"action": {"type": "Delete"}, "condition": {"age": retention}}],
    )
    return {"bucket": bucket.name, "retention_days": retention}


@task
def announce(bucket: str) -> str:
    return f"loading into gs://{bucket}"


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, params={"env": "dev"})
def analytics_storage():
    infra = storage(region="EU")
    announce(infra["bucket"])


analytics_storage_dag = analytics_storage()
