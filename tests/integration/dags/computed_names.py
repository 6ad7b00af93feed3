"""A provider-computed name read by a downstream task (``test_scenarios.py``)."""

import pendulum
from airflow.sdk import dag, task

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="names", stack="dev", pulumi_command=ENGINE)
    def names(prefix: str):
        from airflow_pulumi_decorators.testing.resources import FakeName

        dataset = FakeName("dataset", prefix=prefix, length=2, separator="_")
        return {"dataset": dataset.name, "id": dataset.id, "prefix": dataset.prefix}

    @task
    def load(dataset: str, prefix: str):
        return {"dataset": dataset, "prefix": prefix}

    out = names(prefix="raw")
    load(out["dataset"], out["prefix"])


the_dag = d()
