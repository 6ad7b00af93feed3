"""Resource options the engines must honour alike (``test_resource_options.py``): ``ignore_changes`` on one
file, ``retain_on_delete`` on another, and a third a test deletes behind Pulumi's back. ``phase``: ``first`` and
``second`` deploy (with ``content`` for the ignored file); ``last`` runs ``up`` with ``refresh=True``, then a
destroy. The files go to ``folder``."""

import pendulum
import pulumi
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)
FOLDER = PARAMS.get("folder", "/tmp/apd-resource-options")


@pulumi_stack(project="opts", stack="dev", pulumi_command=ENGINE)
def files(folder: str, content: str):
    from airflow_pulumi_decorators.testing.resources import LocalFile

    ignored = LocalFile("ignored", path=f"{folder}/ignored.txt", content=content,
                        opts=pulumi.ResourceOptions(ignore_changes=["content"]))
    LocalFile("retained", path=f"{folder}/retained.txt", content="kept", opts=pulumi.ResourceOptions(
        retain_on_delete=True))
    LocalFile("plain", path=f"{folder}/plain.txt", content="plain")
    return {"ignored": ignored.content}


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    if PARAMS.get("phase") == "last":
        files.override(refresh=True)(FOLDER, "one") >> files.destroy(FOLDER, "one")
    else:
        files(FOLDER, PARAMS.get("content", "one"))


the_dag = d()
