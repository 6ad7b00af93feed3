"""``count`` :class:`Sleep` resources of ``delay`` seconds each, created one after the other, so a kill
lands in the middle of the ``up`` (``test_kill_and_locks.py``). ``options`` are more ``@pulumi_stack``
arguments (``execution_timeout`` in seconds)."""

import pendulum
import pulumi
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)
COUNT, DELAY = PARAMS.get("count", 8), PARAMS.get("delay", 0.5)
OPTIONS = dict(PARAMS.get("options", {}))
if "execution_timeout" in OPTIONS:
    OPTIONS["execution_timeout"] = pendulum.duration(seconds=OPTIONS["execution_timeout"])


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="slow", stack="dev", pulumi_command=ENGINE, **OPTIONS)
    def slow():
        from airflow_pulumi_decorators.testing.resources import Sleep

        made = []
        for i in range(COUNT):  # one after the other, so a kill lands in the middle
            made.append(Sleep(f"s{i}", seconds=DELAY, opts=pulumi.ResourceOptions(depends_on=made[-1:])))
        return {"count": len(made)}

    slow()


the_dag = d()
