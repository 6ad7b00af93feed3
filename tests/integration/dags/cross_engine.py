"""One stack that one engine deploys and another engine reads (``test_cross_engine_state.py``): a Python
dynamic-provider resource with a provider-computed output, one whose content is secret, and a secret stack output.
``phase`` is the operation of the run (``up``, ``preview``, ``refresh`` or ``destroy``); the files go to ``folder``."""

import pendulum
import pulumi
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)
FOLDER = PARAMS.get("folder", "/tmp/apd-cross-engine")
PHASE = PARAMS.get("phase", "up")


@pulumi_stack(project="xeng", stack="dev", pulumi_command=ENGINE)
def infra(folder: str):
    from airflow_pulumi_decorators.testing.resources import FakeName, LocalFile

    name = FakeName("bucket", prefix="raw", length=2)
    key = LocalFile("key", path=f"{folder}/key.txt", content=pulumi.Output.secret("s3cr3t-key"))
    conf = LocalFile("conf", path=f"{folder}/conf.txt", content=name.name,
                     opts=pulumi.ResourceOptions(depends_on=[key]))
    return {"bucket": name.name, "sha": conf.sha256, "token": pulumi.Output.secret("tok-cross"), "key": key.content}


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    (infra if PHASE == "up" else getattr(infra, PHASE))(FOLDER)


the_dag = d()
