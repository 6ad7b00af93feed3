"""A file written at ``target`` by a resource of the non-bundled provider package ``apdplug`` (our
dynamic-provider server under another name), so the real CLI must find its plugin (``test_plugins.py``)."""

import pendulum
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)
TARGET = PARAMS.get("target", "/tmp/apd-plugged/conf.txt")
PACKAGE, VERSION = PARAMS.get("package", "apdplug"), PARAMS.get("version", "0.1.0")


@pulumi_stack(project="plugged", stack="dev", pulumi_command=ENGINE)
def plugged(path: str):
    import pulumi
    from pulumi.dynamic.dynamic import serialize_provider

    from airflow_pulumi_decorators.testing.resources import _LocalFileProvider

    class PluggedFile(pulumi.CustomResource):
        def __init__(self, name, **props):
            props["__provider"] = serialize_provider(_LocalFileProvider())
            props.update(sha256=None, size=None)
            super().__init__(f"{PACKAGE}:index:File", name, props, pulumi.ResourceOptions(version=VERSION))

    made = PluggedFile("conf", path=path, content="from a plugin")
    return {"sha256": made.sha256}


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    plugged(path=TARGET)


the_dag = d()
