"""``up`` then an allowed ``destroy`` (stack removed) of a protected environment (``test_lifecycle.py``)."""

import pendulum
from airflow.sdk import dag

from airflow_pulumi_decorators import Environment, pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)
ENVS = {
    "dev": Environment(stack="dev"),
    "prod": Environment(stack="prod", protected=True),
}


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1), params={"env": "prod"})
def d():
    @pulumi_stack(project="pets", environments=ENVS, environment="{{ params.env }}", pulumi_command=ENGINE)
    def pets():
        import pulumi_random as random

        return {"id": random.RandomPet("p").id}

    pets() >> pets.override(allow_destroy_protected=True, remove_stack=True).destroy()


the_dag = d()
