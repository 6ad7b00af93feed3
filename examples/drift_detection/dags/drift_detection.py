"""Scheduled drift detection: every hour, each environment's stack is refreshed from the cloud and
compared with the program. Any difference — a console edit, or code merged without a deploy — fails that
environment's task with ``DriftDetectedError`` listing the drifted resources, and the failure callback
raises the alarm. Nothing is changed.

Two DAGs share one program: ``warehouse_deploy`` (manual, ``{"env": "dev"}`` or ``"prod"``) and
``warehouse_drift`` (hourly).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from airflow_pulumi_decorators import Environment, pulumi_stack

ENVIRONMENTS = {
    "dev": Environment(stack="dev", config={"gcp:project": "acme-wh-dev", "gcp:region": "europe-west1"}),
    "prod": Environment(
        stack="prod", config={"gcp:project": "acme-wh-prod", "gcp:region": "europe-west1"}, protected=True
    ),
}
START = pendulum.datetime(2026, 1, 1, tz="UTC")


@pulumi_stack(project="warehouse", environments=ENVIRONMENTS, environment="{{ params.env }}")
def warehouse(team: str):
    import pulumi
    import pulumi_gcp as gcp

    exports = gcp.storage.Bucket(
        "exports",
        location="EU",
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        versioning={"enabled": True},
    )
    dataset = gcp.bigquery.Dataset("warehouse", dataset_id=f"{team}_warehouse", location="EU")
    return {"exports": exports.url, "dataset": pulumi.Output.concat(dataset.project, ".", dataset.dataset_id)}


def page_on_call(context) -> None:
    """Failure callback: a real deployment would page someone or post to a chat channel."""
    print(f"DRIFT ALERT: task {context['ti'].task_id} failed: {context.get('exception')}")


@dag(dag_id="warehouse_deploy", schedule=None, start_date=START, catchup=False, params={"env": "dev"},
     tags=["pulumi", "example"])
def warehouse_deploy():
    warehouse(team="analytics")


@dag(dag_id="warehouse_drift", schedule="@hourly", start_date=START, catchup=False, tags=["pulumi", "example"])
def warehouse_drift():
    for env in ENVIRONMENTS:
        check = warehouse.override(task_id=f"warehouse_{env}", environment=env, on_failure_callback=page_on_call)
        check.drift_check(team="analytics")


warehouse_deploy_dag = warehouse_deploy()
warehouse_drift_dag = warehouse_drift()
