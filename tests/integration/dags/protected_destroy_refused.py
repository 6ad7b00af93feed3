"""``up`` then a ``destroy`` of a protected environment, not allowed; the program writes
``<folder>/keep.txt`` (``test_scenarios.py``)."""

import pendulum
from airflow.sdk import dag

from airflow_pulumi_decorators import Environment, pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)
FOLDER = PARAMS.get("folder", "/tmp/apd-protected")
ENVS = {"dev": Environment(stack="dev"), "prod": Environment(stack="prod", protected=True)}


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1), params={"env": "prod"})
def d():
    @pulumi_stack(project="guarded", environments=ENVS, environment="{{ params.env }}", pulumi_command=ENGINE)
    def guarded():
        from airflow_pulumi_decorators.testing.resources import LocalFile

        return {"path": LocalFile("f", path=f"{FOLDER}/keep.txt", content="keep").path}

    guarded() >> guarded.destroy()


the_dag = d()
