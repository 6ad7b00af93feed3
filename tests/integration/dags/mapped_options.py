"""Mapped operator tasks whose options come from ``partial`` (an option keyword) and from ``expand_kwargs``
(``test_dag_runs.py``)."""

import pendulum
import pulumi
from airflow.sdk import dag

from airflow_pulumi_decorators import OperationOptions, PulumiStackOperator
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)


def program():
    return {"stack": pulumi.get_stack()}


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    PulumiStackOperator.partial(
        task_id="refreshed", program=program, project="mapped", pulumi_command=ENGINE, refresh=True,
    ).expand(stack=["r0", "r1"])
    PulumiStackOperator.partial(
        task_id="grouped", program=program, project="mapped", pulumi_command=ENGINE,
    ).expand_kwargs([
        {"stack": "g0", "options": OperationOptions(refresh=True)},
        {"stack": "g1", "options": OperationOptions(lock_wait=5)},
    ])


the_dag = d()
