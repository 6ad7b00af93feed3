"""Outputs declared without a value (``None``, at once or from an apply), read by a downstream task."""

import pendulum
from airflow.sdk import dag, task

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="missing", stack="dev", pulumi_command=ENGINE, task_id="infra")
    def infra():
        from airflow_pulumi_decorators.testing.resources import Sleep

        first = Sleep("first", seconds=0.01)
        return {"ok": first.seconds, "none": None, "later_none": first.seconds.apply(lambda _: None)}

    @task
    def load(ok, none):
        print(f"load got ok={ok!r} none={none!r}")

    out = infra()
    load(out["ok"], out["none"])


the_dag = d()
