"""A secret output pushed to XCom on request (``test_dag_runs.py``)."""

import pendulum
import pulumi
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="secrets", stack="dev", pulumi_command=ENGINE, push_secret_outputs=True)
    def infra():
        return {"token": pulumi.Output.secret("pushed-secret-77aa")}

    infra()


the_dag = d()
