"""A task that names no ``pulumi_command``: it finds ``pulumi`` as a worker would (``test_standin_executable.py``)."""

import pendulum
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params

PARAMS = dag_params(__file__)


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="exe", stack="dev")
    def infra(size: int):
        import pulumi_random as random

        pet = random.RandomPet("pet", length=size)
        return {"pet": pet.id, "length": pet.length}

    infra(size=2)


the_dag = d()
