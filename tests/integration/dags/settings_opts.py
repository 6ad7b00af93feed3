"""One ``up`` task whose CLI call the ``[pulumi]`` options shape (``test_settings_dags.py``)."""

import pendulum
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from airflow_pulumi_decorators.testing import StandinCommand
from tests.integration.dags.dagparams import dag_params

PARAMS = dag_params(__file__)


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="opts", stack="dev", pulumi_command=StandinCommand())
    def infra():
        return {"ok": True}

    infra()


the_dag = d()
