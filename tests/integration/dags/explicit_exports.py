"""A program that calls ``pulumi.export`` and returns nothing (``test_dag_runs.py``)."""

import pendulum
import pulumi
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="exports", stack="dev", pulumi_command=ENGINE)
    def infra():
        import pulumi_random as random

        pet = random.RandomPet("pet", length=3)
        pulumi.export("length", pet.length)
        pulumi.export("name", "fixed")

    infra()


the_dag = d()
