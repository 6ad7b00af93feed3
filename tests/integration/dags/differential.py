"""The program every engine runs for the differential test, in two runs (``phase``): ``first`` previews,
applies and feeds a downstream task; ``second`` refreshes, updates (dropping a resource) and destroys. Its
files go to ``folder`` (``test_differential.py``)."""

import pendulum
import pulumi
from airflow.sdk import dag, task

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)
FOLDER = PARAMS.get("folder", "/tmp/apd-differential")


@pulumi_stack(project="diff", stack="dev", pulumi_command=ENGINE)
def infra(folder: str, content: str, extra: bool):
    from airflow_pulumi_decorators.testing.resources import FakeName, LocalFile

    name = FakeName("bucket", prefix="raw", length=2)
    pulumi.log.warn("differential check: labels missing")  # an engine diagnostic, logged at WARNING
    conf = LocalFile("conf", path=f"{folder}/conf.txt", content=content)
    out = {"bucket": name.name, "conf": conf.path, "sha": conf.sha256, "size": conf.size,
           "token": pulumi.Output.secret("tok-" + content), "nested": {"a": 1, "names": [name.name]}}
    if extra:
        out["extra"] = LocalFile("extra", path=f"{folder}/extra.txt", content="x",
                                 opts=pulumi.ResourceOptions(depends_on=[conf])).path
    return out


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def first():
    planned = infra.preview(FOLDER, "one", True)
    made = infra(FOLDER, "one", True)

    @task
    def use(bucket: str, size: int, nested: dict, token):
        return {"bucket": bucket, "size": size, "nested": nested, "token": token}

    planned >> made
    use(made["bucket"], made["size"], made["nested"], made["token"])


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def second():
    refreshed = infra.refresh(FOLDER, "one", True)
    updated = infra(FOLDER, "two", False)
    gone = infra.destroy(FOLDER, "two", False)
    refreshed >> updated >> gone


the_dag = second() if PARAMS.get("phase") == "second" else first()
