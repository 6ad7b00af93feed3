"""A stack with a secret output and the secret config value ``secret_config``."""

import pendulum
import pulumi
from airflow.sdk import dag

from airflow_pulumi_decorators import Environment, pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)
ENVS = {"dev": Environment(stack="dev", secret_config={"fault:password": PARAMS.get("secret_config", "secret")})}


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="st", environments=ENVS, pulumi_command=ENGINE)
    def st():
        return {"token": pulumi.Output.secret("state-secret-output-5b21"), "plain": 1}

    st()


the_dag = d()
