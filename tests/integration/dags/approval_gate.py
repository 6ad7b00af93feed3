"""preview → approval (Airflow HITL) → up on a protected environment (``test_approvals.py``)."""

import pendulum
from airflow.sdk import dag

from airflow_pulumi_decorators import Environment, pulumi_stack
from airflow_pulumi_decorators.testing import StandinCommand
from tests.integration.dags.dagparams import dag_params

PARAMS = dag_params(__file__)
ENVS = {"prod": Environment(stack="prod", protected=True)}


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="gated", environments=ENVS, pulumi_command=StandinCommand())
    def gated():
        import pulumi_random as random

        return {"id": random.RandomPet("pet", length=2).id}

    gated.with_approval(approval={"subject": "Deploy gated to prod?"})


the_dag = d()
