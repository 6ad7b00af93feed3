"""A stack named after the run id (``test_lifecycle.py``)."""

import pendulum
import pulumi
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="per-run", stack="{{ run_id | stack_name }}", pulumi_command=ENGINE)
    def scratch():
        return {"stack": pulumi.get_stack()}

    scratch()


the_dag = d()
