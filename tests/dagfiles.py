"""The DAG files of ``tests/integration/dags/`` as the tests hand them to a run: the file's text and the
JSON file of parameters written beside its copy (:mod:`tests.integration.dags.dagparams`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
DAGS = TESTS / "integration" / "dags"


def dag_source(name: str) -> str:
    """The text of the DAG file ``tests/integration/dags/<name>.py``, or of ``tests/<name>.py`` for a name
    with a folder (``reliability/dags/killed_stack``).

    :raises FileNotFoundError: if there is no such DAG file.
    """
    return ((TESTS if "/" in name else DAGS) / f"{name}.py").read_text()


def write_dag_params(dag_file: Path, engine: Any, params: dict[str, Any]) -> None:
    """Write the parameters of the DAG file that is (or will be) at ``dag_file``.

    :param engine: the engine's name, or an :class:`~tests.engines.EngineKit`.
    :param params: JSON values the DAG file reads.
    """
    dag_file.with_suffix(".json").write_text(json.dumps({"engine": getattr(engine, "name", engine), **params}))
