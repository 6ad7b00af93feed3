"""Real DAG runs: a DAG file written into the dags folder, imported, and run with ``dag.test()``.

Each test gets its own ``file://`` backend and passphrase; the run's XComs, task states and everything
printed (the task logs of ``dag.test()``) come back for assertions and leak searches.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import textwrap
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

PASSPHRASE = "integration-passphrase-6f1c"


@dataclass
class DagResult:
    state: str
    task_states: dict[str, str]
    xcoms: dict[str, dict[str, Any]]
    output: str
    backend: Path
    rendered: dict[str, Any] = field(default_factory=dict)

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        return self.xcoms[task_id][key]


@pytest.fixture
def backend(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{path}")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    return path


@pytest.fixture
def run_dag(airflow_home, backend, capfd):
    """Write ``source`` (with ``{dag_id}`` filled in) as a DAG file and run it with ``dag.test()``."""

    def run(source: str, *, run_conf: dict | None = None, dag_id: str | None = None) -> DagResult:
        dag_id = dag_id or f"t_{uuid.uuid4().hex[:10]}"
        path = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{dag_id}.py"
        path.write_text(textwrap.dedent(source).replace("{dag_id}", dag_id))
        spec = importlib.util.spec_from_file_location(dag_id, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[dag_id] = module
        spec.loader.exec_module(module)
        from airflow.sdk import DAG

        dag = next(v for v in vars(module).values() if isinstance(v, DAG) and v.dag_id == dag_id)
        _rebind_closed_log_streams()
        capfd.readouterr()
        try:
            run = dag.test(run_conf=run_conf)
        finally:
            captured = capfd.readouterr()
            sys.modules.pop(dag_id, None)
        from airflow.models.renderedtifields import RenderedTaskInstanceFields
        from airflow.models.taskinstance import TaskInstance
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            xcoms: dict[str, dict[str, Any]] = {}
            for row in session.query(XComModel).filter(XComModel.dag_id == dag_id):
                xcoms.setdefault(row.task_id, {})[row.key] = row.value
            tis = session.query(TaskInstance).filter(TaskInstance.dag_id == dag_id).all()
            states = {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in tis}
            rendered = {
                r.task_id: r.rendered_fields
                for r in session.query(RenderedTaskInstanceFields).filter(RenderedTaskInstanceFields.dag_id == dag_id)
            }
        assert "--- Logging error ---" not in captured.out + captured.err, "log records were lost"
        return DagResult(
            state=str(getattr(run.state, "value", run.state)),
            task_states=states,
            xcoms=xcoms,
            output=captured.out + captured.err,
            backend=Path(os.environ["PULUMI_BACKEND_URL"][len("file://"):]),
            rendered=rendered,
        )

    return run


def _rebind_closed_log_streams() -> None:
    """Point stdlib log handlers at the current ``sys.stderr`` when their stream was closed.

    The first ``dag.test()`` of a session attaches handlers to the stream that test's capture owned;
    once that capture is closed, later records would be dropped ("--- Logging error ---") and leak
    searches over the output would see less than the task logged.
    """
    import logging

    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            stream = getattr(handler, "stream", None)
            if isinstance(handler, logging.StreamHandler) and getattr(stream, "closed", False):
                with handler.lock:  # not setStream(): it would flush the closed stream first
                    handler.stream = sys.stderr


def all_text_under(*roots: Path) -> str:
    """Every readable file below ``roots`` as one string, for leak searches."""
    chunks = []
    for root in roots:
        for dirpath, _, files in os.walk(root):
            for name in files:
                try:
                    chunks.append(Path(dirpath, name).read_text(errors="replace"))
                except OSError:
                    continue
    return "\n".join(chunks)
