"""A program that never ends (``body``: ``sleep-in-program``, blocked in C; ``loop-in-apply``, a Python
loop inside an apply) under an ``execution_timeout`` of ``timeout`` seconds. The secret config value comes
from ``FAULT_SECRET`` in the environment: the DAG file holds no secret."""

import os

import pendulum
from airflow.sdk import dag

from airflow_pulumi_decorators import Environment, pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)
BODY = PARAMS.get("body", "sleep-in-program")
ENVS = {"dev": Environment(stack="dev", secret_config={"fault:password": os.environ.get("FAULT_SECRET", "unset")})}


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="hang", environments=ENVS, pulumi_command=ENGINE,
                  execution_timeout=pendulum.duration(seconds=PARAMS.get("timeout", 6)), kill_grace_period=3)
    def hang():
        import time

        from airflow_pulumi_decorators.testing.resources import Sleep

        if BODY == "sleep-in-program":
            # Blocked in C for ten minutes: no Python instruction runs until it returns.
            Sleep("before", seconds=0.1)
            time.sleep(600)
            return {"never": 1}
        # A Python loop inside an apply (waiting for something that never comes).
        first = Sleep("before", seconds=0.1)

        def forever(value):
            while True:
                time.sleep(0.05)

        return {"never": first.id.apply(forever)}

    hang()


the_dag = d()
