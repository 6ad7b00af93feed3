"""Secret outputs handed downstream as references (``secret_outputs="reference"``): every kind of consumer gets
the value, its log shows ``***``, and the plaintext is nowhere Airflow or Pulumi store anything.

The DAG (``dags/secret_refs.py``) runs in a child process (the ``child_dag`` fixture: ``dag.test()`` with its
own copy of the metadata database) with ``[core] xcom_backend`` set to ``PulumiSecretXCom``, on the executables
(the ``pulumi-standin`` executable and the real CLI: the XCom backend reaches the engine through
``[pulumi] cli_path``, as on a worker). The child configures the task-log pipeline a task's log goes through
(structlog with Airflow's masker); ``dag.test()`` alone writes logs unmasked (docs/outputs.md). ``dag.test()``
runs every task in one process, so masks registered by one task apply to the next: the producer of a reference
never registers the output's value (only its secret config), so a ``***`` for the token is the consumer's own
doing, and a fresh process resolving a stored reference shows it without any producer. The explicit helper runs
on the in-process stand-in too.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

import tests.childrun
from airflow_pulumi_decorators.outputs import REF_MARKER
from tests.dagfiles import dag_source
from tests.dagrun import all_text_under

pytestmark = pytest.mark.integration

XCOM_BACKEND = "airflow_pulumi_decorators.xcom_backend.PulumiSecretXCom"
# Values no other test uses: a child run's database is a copy of the session's, which holds other tests'
# runs (the deprecated push_secret_outputs stores its secrets in plain text there, by design).
SECRETS = dict(secret="s3cr3t-token-refs-9d2e71", secret_cfg="s3cr3t-config-refs-4b1a55",
               nested="s3cr3t-nested-refs-77a0")
#: What the child runs before the DAG: the structlog pipeline with Airflow's masker, as a task's log has it.
MASKED_LOGS = "from airflow.sdk.log import configure_logging\nconfigure_logging()\n"


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def dump_database(path: Path) -> str:
    """Every row of every table of a SQLite metadata database, as SQL text."""
    db = sqlite3.connect(path)
    try:
        return "\n".join(db.iterdump())
    finally:
        db.close()


def rows(path: Path, query: str) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return list(db.execute(query))
    finally:
        db.close()


def dag_id_of(run: tests.childrun.ChildRun) -> str:
    """The DAG id of a child run: its DAG file's name (the child's database is a copy of the session's, with
    other tests' runs in it)."""
    (dag_file,) = (run.home / "dags").glob("*.py")
    return dag_file.stem


def xcoms_as_the_api_returns_them(path: Path, dag_id: str) -> dict[tuple[str, str, int], object]:
    """Each XCom of ``dag_id`` as the REST API (and the UI's XCom view) shows it: the stored JSON, stringified
    as the api-server's XCom route does (``airflow.serialization.stringify``); no XCom backend is involved there."""
    from airflow.serialization.stringify import stringify

    found = rows(path, f"select task_id, key, map_index, value from xcom where dag_id = '{dag_id}'")
    return {(task, key, index): stringify(json.loads(value) if isinstance(value, str) else value)
            for task, key, index, value in found}


@pytest.mark.parametrize("engine", ["standin-exe", "real"], indirect=True)
def test_every_consumer_gets_the_secret_masked_and_its_plaintext_is_stored_nowhere(child_dag, engine, backend,
                                                                                   monkeypatch):
    monkeypatch.setattr(tests.childrun, "RUNNER", MASKED_LOGS + tests.childrun.RUNNER)
    run = child_dag.run(dag_source("secret_refs"), params={"secrets": SECRETS}, timeout=300,
                        env={"AIRFLOW__CORE__XCOM_BACKEND": XCOM_BACKEND})
    assert run.dag_state == "success", run.output[-4000:]
    database = run.home / "airflow.db"

    # The producer pushed references: where each secret output is, never its value.
    api = xcoms_as_the_api_returns_them(database, dag_id_of(run))
    for key in ("token", "password", "db"):
        ref = api[("infra", key, -1)]
        assert isinstance(ref, dict) and ref[REF_MARKER] == 1, ref
        assert (ref["project"], ref["stack"], ref["key"]) == ("secretrefs", "dev", key)
        assert ref["backend"] == f"file://{backend}"
    assert api[("infra", "plain", -1)] == "visible"

    # Each consumer got the right values (it returns their digests, never the values).
    assert api[("load", "return_value", -1)] == {
        "token": digest(SECRETS["secret"]), "password": digest(SECRETS["secret_cfg"]),
        "db_password": digest(SECRETS["nested"]), "db_host": "db.internal", "plain": "visible",
    }
    assert [api[("mapped", "return_value", i)] for i in (0, 1)] == [
        {"n": 1, "token": digest(SECRETS["secret"])}, {"n": 2, "token": digest(SECRETS["secret"])}]
    assert f"classic digest {digest(SECRETS['secret'])}" in run.output  # the templated field had the value

    # Each consumer's log and rendered fields show *** where the value was.
    assert "connecting as app_user with token *** and password ***" in run.output
    assert "instance 1 uses token ***" in run.output and "instance 2 uses token ***" in run.output
    assert "classic sees ***" in run.output
    rendered = {(task, index): json.loads(fields) for task, index, fields in rows(
        database, "select task_id, map_index, rendered_fields from rendered_task_instance_fields "
                  f"where dag_id = '{dag_id_of(run)}'")}
    assert rendered[("load", -1)]["op_args"][:2] == ["***", "***"]
    assert rendered[("mapped", 0)]["op_kwargs"]["token"] == "***"
    assert rendered[("classic", -1)]["bash_command"].startswith('echo "classic sees ***"')

    homes = [p for p in run.home.iterdir() if p.is_dir() and p.name != "dags"]
    files = [p for p in run.home.iterdir() if p.is_file()]  # the database file itself, config
    assert database in files
    # The plaintext: in no table of the metadata database, no log, no rendered field, no XCom as the API shows
    # it, no state, config or temporary file.
    dump = dump_database(database)
    assert digest(SECRETS["secret"]) in dump and REF_MARKER in dump  # the dump has the run's rows
    places = {
        "metadata database": dump,
        "task logs": run.output,
        "rendered fields": json.dumps(list(rendered.values())),
        "XCom as the REST API returns it": json.dumps(list(api.values()), default=str),
        # AIRFLOW_HOME but its dags folder (the DAG file's parameters there are the test's input).
        "state, config and temporary files": all_text_under(backend, run.temp, *homes)
        + "".join(p.read_text(errors="replace") for p in files),
    }
    found = {(name, where): text.count(value) for name, value in SECRETS.items() for where, text in places.items()}
    assert {k: n for k, n in found.items() if n} == {}

    # Nothing of the resolutions is left behind: work directories, per-task PULUMI_HOMEs.
    assert run.work_dirs() == []
    assert list((run.home / "pulumi" / "homes").iterdir()) == []


@pytest.mark.parametrize("engine", ["standin-exe"], indirect=True)
def test_the_same_search_finds_what_the_deprecated_push_secret_outputs_stores(child_dag, engine, monkeypatch):
    """The search above can fail: ``push_secret_outputs=True`` stores the plaintext in the XCom table, which the
    REST API and the UI show (issue 23). (Its consumer's log is masked here only because ``dag.test()`` runs every
    task in one process, which shares the producer's masker; on a worker it is not.)"""
    monkeypatch.setattr(tests.childrun, "RUNNER", MASKED_LOGS + tests.childrun.RUNNER)
    run = child_dag.run(dag_source("secret_refs"), params={"secrets": SECRETS, "push": True}, timeout=300)
    assert run.dag_state == "success", run.output[-4000:]
    dump = dump_database(run.home / "airflow.db")
    assert dump.count(SECRETS["secret"]) >= 2  # the output's own XCom and return_value
    api = xcoms_as_the_api_returns_them(run.home / "airflow.db", dag_id_of(run))
    assert api[("infra", "token", -1)] == SECRETS["secret"]


RESOLVE_ELSEWHERE = """
import hashlib, json, sys
from airflow.sdk._shared.secrets_masker import redact
from airflow_pulumi_decorators.xcom_backend import PulumiSecretXCom

class Stored:  # what the Task SDK hands deserialize_value: the stored JSON, decoded
    value = json.loads(sys.argv[1])

value = PulumiSecretXCom.deserialize_value(Stored())
print("DIGEST", hashlib.sha256(value.encode()).hexdigest()[:16])
print("REDACTED", redact(f"it is {value}"))
"""


@pytest.mark.parametrize("engine", ["standin-exe"], indirect=True)
def test_a_fresh_process_resolves_a_stored_reference_and_masks_it_before_returning(child_dag, engine, backend,
                                                                                   tmp_path, monkeypatch):
    """A consumer on another worker shares nothing with the producer: a new Python process with only the stored
    reference (and the worker's settings: backend, passphrase, CLI) gets the value, already registered with its
    masker."""
    import os
    import subprocess
    import sys

    run = child_dag.run(dag_source("secret_refs"), params={"secrets": SECRETS}, timeout=300,
                        env={"AIRFLOW__CORE__XCOM_BACKEND": XCOM_BACKEND})
    assert run.dag_state == "success", run.output[-4000:]
    (stored,) = [v for (v,) in rows(run.home / "airflow.db", "select value from xcom where task_id = 'infra' and "
                                   f"key = 'token' and dag_id = '{dag_id_of(run)}'")]
    env = {**os.environ, "AIRFLOW_HOME": str(run.home), "PYTHONPATH": str(tests.childrun.REPO),
           "PULUMI_BACKEND_URL": f"file://{backend}"}
    out = subprocess.run([sys.executable, "-c", RESOLVE_ELSEWHERE, stored], env=env, capture_output=True, text=True,
                         timeout=120, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"DIGEST {digest(SECRETS['secret'])}" in out.stdout
    assert "REDACTED it is ***" in out.stdout
    assert SECRETS["secret"] not in out.stdout + out.stderr


def test_a_consumer_resolves_a_reference_itself_without_the_xcom_backend(run_dag_file):
    """The in-process stand-in; no ``[core] xcom_backend``: the task gets the reference and calls
    ``resolve_secret_output``."""
    result = run_dag_file("secret_refs", explicit=True, secrets=SECRETS)
    assert result.state == "success", result.output[-3000:]
    ref = result.xcom("infra", "token")
    assert ref[REF_MARKER] == 1 and ref["key"] == "token"
    assert result.xcom("explicit") == {"ref_project": "secretrefs", "token": digest(SECRETS["secret"])}
    everything = json.dumps(result.xcoms) + json.dumps(result.rendered, default=str) + all_text_under(result.backend)
    for value in SECRETS.values():
        assert value not in everything
