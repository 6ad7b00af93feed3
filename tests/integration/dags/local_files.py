"""``count`` files in ``folder``, and the operations ``steps`` on them, run one after the other
(``test_scenarios.py``). ``dag_params`` become the DAG's params (``count`` may be a template reading them).

Steps: ``up``, ``preview``, ``refresh``, ``destroy``, ``drift_check``, ``up_refresh`` (an ``up`` that
refreshes first), ``refresh_preview_only`` and ``destroy_remove`` (removes the stack too).
"""

import pendulum
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)


@pulumi_stack(project="files", stack="dev", pulumi_command=ENGINE)
def files(folder: str, count: int):
    from airflow_pulumi_decorators.testing.resources import LocalFile

    made = [LocalFile(f"f{i}", path=f"{folder}/f{i}.txt", content=f"file {i}") for i in range(int(count))]
    return {"count": len(made)}


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1),
     params=PARAMS.get("dag_params", {}))
def d():
    steps = {
        "up": lambda: files,
        "preview": lambda: files.preview,
        "refresh": lambda: files.refresh,
        "destroy": lambda: files.destroy,
        "drift_check": lambda: files.drift_check,
        "up_refresh": lambda: files.override(refresh=True),
        "refresh_preview_only": lambda: files.override(preview_only=True).refresh,
        "destroy_remove": lambda: files.override(remove_stack=True).destroy,
    }
    folder, count = PARAMS.get("folder", "/tmp/apd-local-files"), PARAMS.get("count", 1)
    tasks = [steps[step]()(folder, count=count) for step in PARAMS.get("steps", ["up"])]
    for before, after in zip(tasks, tasks[1:], strict=False):
        before >> after


the_dag = d()
