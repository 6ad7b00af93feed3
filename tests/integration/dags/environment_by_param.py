"""Two environments, the run's chosen by the DAG param ``env`` (``test_dag_runs.py``, ``test_scenarios.py``)."""

import pendulum
import pulumi
from airflow.sdk import dag

from airflow_pulumi_decorators import Environment, pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)
ENVS = {
    "dev": Environment(stack="dev", config={"gcp:project": "acme-dev", "app:tier": "small"}),
    "prod": Environment(stack="prod", config={"gcp:project": "acme-prod", "app:tier": "large"}),
}


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1), params={"env": "dev"})
def d():
    @pulumi_stack(project="envs", environments=ENVS, environment="{{ params.env }}", pulumi_command=ENGINE)
    def infra():
        return {"tier": pulumi.Config("app").require("tier"), "project": pulumi.Config("gcp").require("project"),
                "stack": pulumi.get_stack()}

    infra()


the_dag = d()
