"""An ``up`` with a secret output (``secret``), then a preview: only the ``up`` emits a stack asset event
(``test_scenarios.py``)."""

import pendulum
import pulumi
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="network", stack="prod", pulumi_command=ENGINE)
    def network():
        return {"vpc": "vpc-1", "token": pulumi.Output.secret(PARAMS.get("secret", "asset-secret"))}

    network() >> network.preview()


the_dag = d()
