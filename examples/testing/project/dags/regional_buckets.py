"""One stack per region: ``regional`` is mapped over a list, and each map index deploys its own stack
(``examples/testing/project/tests/test_regional_buckets.py``)."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from airflow_pulumi_decorators import pulumi_stack

REGIONS = ["eu", "us", "asia"]


@pulumi_stack(project="regional", stack="{{ task.op_kwargs['region'] }}")  # a stack per map index
def regional(region: str):
    import pulumi_gcp as gcp

    bucket = gcp.storage.Bucket("raw", name=f"acme-raw-{region}", location=region.upper())
    return {"bucket": bucket.name}


@task
def collect(buckets: list[str]) -> list[str]:
    return sorted(buckets)


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def regional_buckets():
    infra = regional.expand(region=REGIONS)
    collect(infra.map(lambda outputs: outputs["bucket"]))


regional_buckets_dag = regional_buckets()
