"""A ``@pulumi_stack`` task mapped over regions, one stack per map index, and a task that collects what each
made (``test_dag_runs.py``): the stack is a template of the map index or of the mapped argument."""

import pendulum
from airflow.sdk import dag, task

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)
REGIONS = ["eu", "us", "asia"]


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="regions", stack=PARAMS.get("stack", "r{{ ti.map_index }}"), pulumi_command=ENGINE)
    def regional(region: str):
        return {"region": region, "bucket": f"raw-{region}"}

    @task
    def collect(buckets: list[str]) -> list[str]:
        return sorted(buckets)

    infra = regional.expand(region=REGIONS)
    collect(infra.map(lambda outputs: outputs["bucket"]))


the_dag = d()
