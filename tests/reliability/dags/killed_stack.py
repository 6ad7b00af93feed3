"""``count`` :class:`Sleep` resources of ``delay`` seconds, then an output that takes ten seconds and
writes the file ``FAULT_MARKER`` names when it starts: a run to stop at several points. The secret
config value comes from ``FAULT_SECRET`` in the environment."""

import os

import pendulum
import pulumi
from airflow.sdk import dag

from airflow_pulumi_decorators import Environment, pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)
COUNT, DELAY = PARAMS.get("count", 3), PARAMS.get("delay", 0.5)
ENVS = {"dev": Environment(stack="dev", secret_config={"fault:password": os.environ.get("FAULT_SECRET", "unset")})}


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="killed", environments=ENVS, pulumi_command=ENGINE, kill_grace_period=5)
    def killed():
        import os
        import pathlib
        import time

        from airflow_pulumi_decorators.testing.resources import Sleep

        made = []
        for i in range(COUNT):
            made.append(Sleep(f"s{i}", seconds=DELAY, opts=pulumi.ResourceOptions(depends_on=made[-1:])))

        def slow_output(value):
            pathlib.Path(os.environ["FAULT_MARKER"]).write_text("outputs")
            for _ in range(200):  # a Python loop: a stop request reaches it
                time.sleep(0.05)
            return value

        return {"last": made[-1].id.apply(slow_output)}

    killed()


the_dag = d()
