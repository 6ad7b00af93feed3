"""Two environments behind two ``pulumi`` connections, chosen by a DAG param (``test_connection_dags.py``)."""

import pendulum
import pulumi
from airflow.sdk import dag

from airflow_pulumi_decorators import Environment, pulumi_stack
from airflow_pulumi_decorators.testing import StandinCommand
from tests.integration.dags.dagparams import dag_params

PARAMS = dag_params(__file__)
ENVS = {
    "dev": Environment(stack="dev", pulumi_conn_id="pulumi_dev", secret_config={"db:password": "pw-dev-31a4b"}),
    "prod": Environment(stack="prod", pulumi_conn_id="pulumi_prod", secret_config={"db:password": "pw-prod-9c2e"}),
}


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1), params={"env": "dev"})
def d():
    @pulumi_stack(project="conns", environments=ENVS, environment="{{ params.env }}", pulumi_command=StandinCommand())
    def infra():
        import pulumi_random as random

        pet = random.RandomPet("pet", prefix=pulumi.get_stack(), length=1)
        return {"stack": pulumi.get_stack(), "prefix": pet.prefix,
                "password": pulumi.Config("db").require_secret("password")}

    infra()


the_dag = d()
