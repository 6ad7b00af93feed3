"""A real DAG run (``ui_stack``: up with a secret output → drift check → preview of an update) in the session's
Airflow database, and Airflow's real api-server app (its own factory: plugins, auth manager, JWT) in process,
with named users of the simple auth manager (``tests/ui/auth.py``)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_pulumi_decorators.testing.dagrun import PASSPHRASE, DagRunner, DagRunResult, StateDir
from tests.dagfiles import dag_source, write_dag_params
from tests.ui.auth import USERS, auth_environment

#: The secret output's value: the tests search every response for it.
SECRET = f"ui-secret-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class Deployed:
    run: DagRunResult
    run_id: str
    dag_id: str
    other_dag_id: str
    project: str
    other_project: str


@pytest.fixture(scope="module")
def deployed(apd_airflow_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """``ui_stack`` run once on the stand-in (project ``web-<id>``), and once more as another DAG on another
    project (``db-<id>``)."""
    state = StateDir(tmp_path_factory.mktemp("ui-state"))
    project, other_project = f"web-{uuid.uuid4().hex[:6]}", f"db-{uuid.uuid4().hex[:6]}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PULUMI_BACKEND_URL", state.url)
        mp.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
        runner = DagRunner(None, state)
        runs = {}
        for dag_id, params in ((f"t_ui_{uuid.uuid4().hex[:8]}", {"project": project, "secret": SECRET}),
                               (f"t_ui_other_{uuid.uuid4().hex[:8]}", {"project": other_project})):
            dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{dag_id}.py"
            write_dag_params(dag_file, "standin", params)
            try:
                runs[dag_id] = runner.run_source(dag_source("ui_stack"), dag_id=dag_id)
            finally:
                dag_file.with_suffix(".json").unlink(missing_ok=True)
            assert runs[dag_id].state == "success", json.dumps(runs[dag_id].task_states)
    (dag_id, run), (other, _) = runs.items()
    yield Deployed(run=run, run_id=run_id_of(dag_id), dag_id=dag_id, other_dag_id=other, project=project,
                   other_project=other_project)


def run_id_of(dag_id: str) -> str:
    """The id of the DAG's one run."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return str(session.scalars(select(DagRun.run_id).where(DagRun.dag_id == dag_id)).one())


@pytest.fixture
def api(deployed: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Airflow's api-server app (``create_app``), alice an admin, bob and carol viewers; carol may not read
    the ``ui_stack`` DAG (the deny list of the test auth manager)."""
    from airflow.api_fastapi.app import create_app, purge_cached_app
    from fastapi.testclient import TestClient

    for name, value in auth_environment(tmp_path, denied=f"carol:{deployed.dag_id}").items():
        monkeypatch.setenv(name, value)
    purge_cached_app()
    try:
        with TestClient(create_app("core"), base_url="http://localhost") as client:
            yield client
    finally:
        purge_cached_app()


def token(client, user: str) -> str:
    """A JWT from the simple auth manager's own login endpoint."""
    response = client.post("/auth/token", json={"username": user, "password": USERS[user][1]})
    assert response.status_code == 201, response.text
    return str(response.json()["access_token"])
