"""Test-wide set-up through our own test kit (:mod:`airflow_pulumi_decorators.testing.pytest_plugin`):
a private AIRFLOW_HOME migrated once per run, a ``file://`` backend per test, the DAG runner, the engines
and the fake Google token server, under the short names our tests use.

The package's pytest11 entry point loads the kit and sets up the home before this file is imported
(``apd_isolated_airflow_home`` in pyproject.toml). Run from a checkout whose install predates the entry point
(``PYTHONPATH=.``), the kit is loaded here instead, and the home set up here: Airflow reads AIRFLOW_HOME
when first imported, and nothing has imported it yet.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_pulumi_decorators.testing.airflow_home import isolate_airflow_home

_KIT = "airflow_pulumi_decorators.testing.pytest_plugin"
_KIT_LOADED = _KIT in sys.modules  # by the entry point, which has set up the home (and removes it)
pytest_plugins = [] if _KIT_LOADED else [_KIT]
_HOME = isolate_airflow_home()  # once per process: the kit's home when the kit set it up

from airflow_pulumi_decorators.testing.dagrun import DagRunner, StateDir  # noqa: E402
from airflow_pulumi_decorators.testing.engines import ENGINES, EngineKit, engine_kit  # noqa: E402
from airflow_pulumi_decorators.testing.google import FakeGoogleTokenServer  # noqa: E402
from tests.childrun import ChildDag  # noqa: E402
from tests.dagfiles import dag_source, write_dag_params  # noqa: E402


@pytest.fixture(scope="session")
def airflow_home(apd_airflow_home: Path) -> Path:
    return apd_airflow_home


@pytest.fixture
def backend(apd_state: StateDir) -> Path:
    """This test's ``file://`` backend folder (``PULUMI_BACKEND_URL`` and passphrase set)."""
    return apd_state.path


@pytest.fixture
def run_dag(apd_airflow_home, apd_state: StateDir, capfd):
    """Write a DAG source (``{dag_id}`` filled in) into the dags folder and run it with ``dag.test()`` on
    the engine its tasks name (``ENGINE`` of the ``header``); the file is removed after the run."""
    return DagRunner(None, apd_state, capfd.readouterr).run_source


@pytest.fixture
def run_dag_file(run_dag):
    """Run the DAG file ``<name>`` (``tests/dagfiles.py``) as ``run_dag`` runs a source: copied into the
    dags folder as ``<dag_id>.py``, its parameters (``engine``: a name or the ``engine`` fixture, default the
    in-process stand-in; the keyword arguments) in ``<dag_id>.json`` beside it. Both are removed after the
    run (the DAG file by the runner)."""

    def run(name: str, *, engine="standin", run_conf=None, dag_id=None, **params):
        dag_id = dag_id or f"t_{uuid.uuid4().hex[:10]}"
        dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{dag_id}.py"
        write_dag_params(dag_file, engine, params)
        try:
            return run_dag(dag_source(name), run_conf=run_conf, dag_id=dag_id)
        finally:
            dag_file.with_suffix(".json").unlink(missing_ok=True)

    return run


@pytest.fixture(params=ENGINES)
def engine(request, tmp_path, monkeypatch) -> EngineKit:
    """The engine a scenario runs on; parametrised over every engine."""
    return engine_kit(request.param, tmp_path, monkeypatch)


@pytest.fixture
def header(engine: EngineKit) -> str:
    """The DAG-file preamble of the engine under test."""
    return engine.header


@pytest.fixture
def fake(apd_fake_google: FakeGoogleTokenServer) -> Iterator[FakeGoogleTokenServer]:
    """Google's token endpoints (STS, IAM Credentials, metadata server) on loopback."""
    yield apd_fake_google


@pytest.fixture
def subject_file(tmp_path: Path, fake: FakeGoogleTokenServer) -> Path:
    """A file holding the fake's subject token, as a workload's OIDC token file would (of the ``fake`` a
    test folder may override)."""
    path = tmp_path / "oidc-token"
    path.write_text(fake.subject_token)
    return path


@pytest.fixture
def child_dag(airflow_home, backend, engine, tmp_path) -> Iterator[ChildDag]:
    """Run DAG files of the engine under test in child processes; any still running are killed after."""
    runner = ChildDag(airflow_home, backend, tmp_path, engine.name)
    yield runner
    runner.close()


def pytest_sessionfinish(session, exitstatus):
    if not _KIT_LOADED:
        shutil.rmtree(_HOME, ignore_errors=True)
