"""A drift event per drift check (``test_drift_events.py``): ``deploy`` writes a file through ``LocalFile``;
``check`` runs ``drift_check(fail_on_drift=False)`` and a refresh preview, each emitting the stack's drift
event. The test edits the file between checks (real drift, seen by the provider's read)."""

import pendulum
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
FOLDER = PARAMS.get("folder", "/tmp/apd-drift-event")


@pulumi_stack(project="drifty", stack="prod", pulumi_command=pulumi_command(PARAMS))
def files(folder: str):
    from airflow_pulumi_decorators.testing.resources import LocalFile

    return {"conf": LocalFile("conf", path=f"{folder}/conf.txt", content="one").path}


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    if PARAMS.get("phase") == "deploy":
        files(FOLDER)
    else:
        files.drift_check(FOLDER, fail_on_drift=False) >> files.override(preview_only=True).refresh(FOLDER)


the_dag = d()
