"""Outputs named like the XComs a task already pushes (``pulumi_summary``, ``return_value``, the link's),
returned or exported; and one inside ``return_value`` (``multiple_outputs=False``), where any name is fine."""

import pendulum
import pulumi
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="names", stack="a", pulumi_command=ENGINE, task_id="summary_named")
    def summary_named():
        return {"pulumi_summary": 1, "ok": 2}

    summary_named()

    @pulumi_stack(project="names", stack="b", pulumi_command=ENGINE, task_id="return_named")
    def return_named():
        return {"return_value": 1}

    return_named()

    @pulumi_stack(project="names", stack="c", pulumi_command=ENGINE, task_id="exported")
    def exported():
        pulumi.export("_link_PulumiUpdateLink", "x")  # exported directly: caught after the update
        return None

    exported()

    @pulumi_stack(project="names", stack="d", pulumi_command=ENGINE, task_id="single", multiple_outputs=False)
    def single():
        return {"pulumi_summary": 1}

    single()


the_dag = d()
