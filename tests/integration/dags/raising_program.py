"""A program that raises inside a helper of its own (``test_scenarios.py``)."""

import pendulum
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="broken", stack="dev", pulumi_command=ENGINE)
    def infra():
        def compute_cidr():
            raise ValueError("cidr overlaps 10.1.0.0/16")

        return {"cidr": compute_cidr()}

    infra()


the_dag = d()
