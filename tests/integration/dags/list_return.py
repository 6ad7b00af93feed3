"""A program that returns a list, not a dict of outputs (``test_dag_runs.py``)."""

import pendulum
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="badreturn", stack="dev", pulumi_command=ENGINE)
    def infra():
        return ["not", "a", "dict"]

    infra()


the_dag = d()
