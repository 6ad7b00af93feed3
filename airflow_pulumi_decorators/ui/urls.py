"""Where the Pulumi view's pages are, below the api-server's base URL (no import of Airflow or FastAPI here:
the extra link of every stack task builds its URL with it)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

#: Where the api-server mounts the view's FastAPI app.
URL_PREFIX = "/pulumi"


def stack_path(project: str, stack: str) -> str:
    """The path of a stack's page, e.g. ``/pulumi/stack?project=network&stack=prod``.

    :param project: the Pulumi project.
    :param stack: the stack as the task names it (``org/project/stack`` forms included).
    """
    return f"{URL_PREFIX}/stack?{urlencode({'project': project, 'stack': stack})}"


def task_path(dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    """The path of a stack task's page (one task instance).

    :param dag_id: the DAG.
    :param run_id: the DAG run.
    :param task_id: the task.
    :param map_index: the mapped task's index (``-1``: not mapped).
    """
    parts = (quote(dag_id, safe=""), quote(run_id, safe=""), quote(task_id, safe=""), str(map_index))
    return f"{URL_PREFIX}/ti/{'/'.join(parts)}"


def airflow_task_path(dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    """The path of the task instance's page in Airflow's own UI (relative to its base URL).

    :param dag_id: the DAG.
    :param run_id: the DAG run.
    :param task_id: the task.
    :param map_index: the mapped task's index (``-1``: not mapped).
    """
    path = f"/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}/tasks/{quote(task_id, safe='')}"
    return f"{path}/mapped/{map_index}" if map_index >= 0 else path
