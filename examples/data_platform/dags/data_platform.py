"""A data platform per environment: a landing bucket, a BigQuery dataset and the service account that
loads one into the other — deployed by one task, whose outputs configure the load task downstream.

Trigger with ``{"env": "dev"}`` (the default) or ``{"env": "prod"}``.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from airflow_pulumi_decorators import Environment, pulumi_stack

ENVIRONMENTS = {
    "dev": Environment(
        stack="dev",
        config={"gcp:project": "acme-data-dev", "gcp:region": "europe-west1", "platform:retention_days": "7"},
    ),
    "prod": Environment(
        stack="prod",
        config={"gcp:project": "acme-data-prod", "gcp:region": "europe-west1", "platform:retention_days": "90"},
        protected=True,
    ),
}


@dag(
    dag_id="data_platform",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"env": "dev"},
    tags=["pulumi", "example"],
)
def data_platform():
    @pulumi_stack(project="data-platform", environments=ENVIRONMENTS, environment="{{ params.env }}")
    def platform(team: str):
        import pulumi
        import pulumi_gcp as gcp

        env = pulumi.get_stack()
        retention_days = pulumi.Config("platform").require_int("retention_days")
        labels = {"team": team, "env": env}

        landing = gcp.storage.Bucket(
            "landing",
            location="EU",
            uniform_bucket_level_access=True,
            labels=labels,
            lifecycle_rules=[{"action": {"type": "Delete"}, "condition": {"age": retention_days}}],
        )
        dataset = gcp.bigquery.Dataset("analytics", dataset_id=f"{team}_{env}", location="EU", labels=labels)
        loader = gcp.serviceaccount.Account("loader", display_name=f"{team} loader ({env})")

        gcp.storage.BucketIAMMember(
            "loader-reads-landing", bucket=landing.name, role="roles/storage.objectViewer", member=loader.member
        )
        gcp.bigquery.DatasetIamMember(
            "loader-writes-analytics",
            dataset_id=dataset.dataset_id,
            role="roles/bigquery.dataEditor",
            member=loader.member,
        )
        return {
            "landing_url": landing.url,
            "dataset": pulumi.Output.concat(dataset.project, ".", dataset.dataset_id),
            "loader": loader.email,
        }

    @task
    def load(landing_url: str, dataset: str, loader: str, ds: str | None = None) -> dict:
        """Configure the day's load job (a real DAG would submit it, e.g. with BigQueryInsertJobOperator)."""
        job = {
            "source_uris": [f"{landing_url}/events/{ds}/*.parquet"],
            "destination_table": f"{dataset}.events",
            "service_account": loader,
        }
        print(f"load job: {job}")
        return job

    infra = platform(team="analytics")
    load(infra["landing_url"], infra["dataset"], infra["loader"])


data_platform_dag = data_platform()
