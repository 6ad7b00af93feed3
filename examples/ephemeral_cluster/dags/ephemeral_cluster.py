"""Nightly Spark on a cluster that exists only while the job runs.

The Dataproc cluster (with its staging bucket and runner service account) is the setup task, the job is
the work, and ``destroy`` is the teardown, which Airflow runs even when the job fails. Each night gets a
stack of its own (``spark-YYYYMMDD``), removed again by the teardown.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from airflow_pulumi_decorators import Environment, pulumi_stack

ENVIRONMENTS = {
    "batch": Environment(stack="batch", config={"gcp:project": "acme-batch", "gcp:region": "europe-west1"}),
}


@dag(
    dag_id="nightly_spark",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["pulumi", "example"],
)
def nightly_spark():
    @pulumi_stack(
        project="nightly-spark",
        environments=ENVIRONMENTS,
        environment="batch",
        stack="spark-{{ ds_nodash }}",
    )
    def spark_cluster(workers: int):
        import pulumi
        import pulumi_gcp as gcp

        region = pulumi.Config("gcp").require("region")
        staging = gcp.storage.Bucket(
            "staging", location="EU", force_destroy=True, uniform_bucket_level_access=True
        )
        runner = gcp.serviceaccount.Account("spark-runner", display_name="Nightly Spark runner")
        cluster = gcp.dataproc.Cluster(
            "spark",
            region=region,
            cluster_config={
                "staging_bucket": staging.name,
                "master_config": {"num_instances": 1, "machine_type": "n2-standard-4"},
                "worker_config": {"num_instances": workers, "machine_type": "n2-standard-8"},
                "gce_cluster_config": {
                    "service_account": runner.email,
                    "service_account_scopes": ["cloud-platform"],
                },
                # A safety net: Dataproc deletes the cluster itself if the teardown never runs.
                "lifecycle_config": {"idle_delete_ttl": "3600s"},
            },
        )
        return {"cluster": cluster.name, "region": cluster.region, "staging_bucket": staging.url}

    @task
    def daily_rollup(cluster: str, region: str, staging_bucket: str, ds: str | None = None) -> dict:
        """The job request (a real DAG would hand it to DataprocSubmitJobOperator)."""
        job = {
            "placement": {"cluster_name": cluster},
            "pyspark_job": {
                "main_python_file_uri": f"{staging_bucket}/jobs/daily_rollup.py",
                "args": [f"--date={ds}"],
            },
        }
        print(f"submitting to {cluster} in {region}: {job}")
        return {"region": region, "job": job}

    with spark_cluster.ephemeral(workers=4) as cluster:
        daily_rollup(cluster["cluster"], cluster["region"], cluster["staging_bucket"])


nightly_spark_dag = nightly_spark()
