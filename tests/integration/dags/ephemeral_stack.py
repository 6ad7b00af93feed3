"""A per-branch stack set up for some work and torn down after it, even when the work fails (the DAG
param ``fail``); the program writes ``<folder>/cluster.conf`` (``test_scenarios.py``)."""

import pendulum
from airflow.sdk import dag, task

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)
FOLDER = PARAMS.get("folder", "/tmp/apd-ephemeral")


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1),
     params={"branch": "feature/Login+SSO", "fail": False})
def d():
    @pulumi_stack(project="preview-env", stack="pr-{{ params.branch | stack_name }}", pulumi_command=ENGINE)
    def cluster(size: int):
        from airflow_pulumi_decorators.testing.resources import LocalFile

        conf = LocalFile("conf", path=f"{FOLDER}/cluster.conf", content=f"size={size}")
        return {"conf": conf.path, "size": size}

    @task
    def work(conf: str, params=None):
        if params["fail"]:
            raise RuntimeError("the work failed")
        return open(conf).read()

    with cluster.ephemeral(size=3) as infra:
        work(infra["conf"])


the_dag = d()
