"""What a test gives a DAG file of this folder: a JSON file beside its copy in the dags folder.

A test copies ``<name>.py`` to ``<dags folder>/<dag_id>.py`` and writes ``<dag_id>.json`` next to it (the
``run_dag_file`` and ``child_dag`` fixtures of ``tests/conftest.py``; ``run_dag_file`` removes both after
the run). Imported on its own, without that file, a DAG file gets its defaults: its file name as the DAG
id, the in-process stand-in as the engine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def dag_params(dag_file: str) -> dict[str, Any]:
    """The parameters of the DAG file at ``dag_file`` (pass ``__file__``): ``dag_id``, ``engine`` and the test's own.

    :param dag_file: the DAG file's path.
    """
    path = Path(dag_file)
    sidecar = path.with_suffix(".json")
    given = json.loads(sidecar.read_text()) if sidecar.exists() else {}
    return {"dag_id": path.stem, "engine": "standin", **given}


def pulumi_command(params: dict[str, Any]) -> Any:
    """The tasks' ``pulumi_command`` on the engine under test: the in-process stand-in, or ``None`` for the
    executables (the test points ``[pulumi] cli_path`` at them).

    :param params: what :func:`dag_params` returned.
    """
    if params["engine"] != "standin":
        return None
    from airflow_pulumi_decorators.testing import StandinCommand

    return StandinCommand()
