"""Four tasks that each fail as a user's would: a program that raises, one whose apply raises, a drift
check that finds drift, a destroy of a stack never deployed."""

import pendulum
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="errs", stack="body", pulumi_command=ENGINE, task_id="body")
    def body():
        raise KeyError("missing-thing")

    body()

    @pulumi_stack(project="errs", stack="applied", pulumi_command=ENGINE, task_id="applied")
    def applied():
        from airflow_pulumi_decorators.testing.resources import Sleep

        first = Sleep("first", seconds=0.01)

        def bad(value):
            raise ValueError("bad value in apply")

        Sleep("second", seconds=first.seconds.apply(bad))

    applied()

    @pulumi_stack(project="errs", stack="drifted", pulumi_command=ENGINE)
    def drifted():
        from airflow_pulumi_decorators.testing.resources import Sleep

        Sleep("never-deployed", seconds=0.01)

    drifted.drift_check()

    @pulumi_stack(project="errs", stack="never", pulumi_command=ENGINE)
    def never():
        return None

    never.destroy()


the_dag = d()
