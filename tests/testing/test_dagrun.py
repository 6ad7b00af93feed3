"""The DAG runner and state folder of the test kit (:mod:`airflow_pulumi_decorators.testing.dagrun`), used
directly, through the pytest plugin's fixtures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pendulum
import pytest
from airflow.sdk import DAG, task

from airflow_pulumi_decorators import pulumi_stack
from airflow_pulumi_decorators.testing.dagrun import PASSPHRASE

DAGS = Path(__file__).parent / "dags"

#: A DAG whose task returns the DAG files in the dags folder while it runs.
LISTING = """
import os

import pendulum
from airflow.sdk import dag, task


@dag(dag_id="{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def listing():
    @task
    def dag_files() -> list:
        return sorted(p for p in os.listdir(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) if p.endswith(".py"))

    dag_files()


the_dag = listing()
"""


def _files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pulumi_stack(project="kit-files", stack="dev")
def files(folder: str, count: int):
    from airflow_pulumi_decorators.testing.resources import LocalFile

    made = [LocalFile(f"f{i}", path=f"{folder}/f{i}.txt", content=f"file {i}") for i in range(int(count))]
    return {"count": len(made), "first": made[0].path}


@task
def downstream(count: int, marker: str) -> int:
    Path(marker).write_text("ran")
    return count * 10


with DAG("apd_kit_runner", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False,
         params={"folder": "", "marker": ""}) as KIT_DAG:
    out = files("{{ params.folder }}", 2)
    downstream(out["count"], "{{ params.marker }}")


@pytest.mark.apd_engines("standin", "standin-exe", "real")
def test_the_runner_reports_states_outputs_resources_operations_and_engine_environment(
    apd_dag_runner, apd_engine, apd_state, tmp_path
):
    conf = {"folder": str(tmp_path / "files"), "marker": str(tmp_path / "ran")}
    result = apd_dag_runner.run(KIT_DAG, run_conf=conf)

    assert result.state == "success", result.output[-3000:]
    assert result.task_states == {"files": "success", "downstream": "success"}
    assert result.xcom("files") == {"count": 2, "first": str(tmp_path / "files" / "f0.txt")}
    assert result.xcom("downstream") == 20
    local_file = "pulumi-python:dynamic/apd:LocalFile"
    assert sorted((r.type, r.name) for r in result.resources("kit-files", "dev")) == [
        (local_file, "f0"), (local_file, "f1")]
    assert {r.name: r.outputs["content"] for r in result.resources(type=local_file)} == {
        "f0": "file 0", "f1": "file 1"}
    assert result.resources("other-project") == []
    assert result.operations == ["up"]
    assert {"PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE"} <= result.env_names
    assert "stack select" in [call.command for call in result.calls]
    assert (tmp_path / "files" / "f1.txt").read_text() == "file 1"
    # Names only: the passphrase the engine was given is in no record of the calls.
    recorded = apd_engine.log.read_text() if apd_engine.log else apd_state.journal_path.read_text()
    assert "PULUMI_CONFIG_PASSPHRASE" in recorded and PASSPHRASE not in recorded

    # The same DAG object again: the result holds this run only.
    again = apd_dag_runner.run(KIT_DAG, run_conf=conf)
    assert again.state == "success" and again.operations == ["up"]
    every_call = apd_engine.calls(apd_dag_runner.state.path)
    assert len(every_call) == len(result.calls) + len(again.calls)
    assert again.calls == every_call[len(result.calls):]


def test_one_task_runs_with_its_upstream_and_nothing_downstream(apd_dag_runner, tmp_path):
    conf = {"folder": str(tmp_path / "files"), "marker": str(tmp_path / "ran")}
    result = apd_dag_runner.run_task(KIT_DAG, "files", run_conf=conf)

    assert result.task_states == {"files": "success"}
    assert result.xcom("files")["count"] == 2
    assert not (tmp_path / "ran").exists()  # `downstream` was marked successful, not run
    with pytest.raises(KeyError, match="has no task 'nope'; its tasks: downstream, files"):
        apd_dag_runner.run_task(KIT_DAG, "nope")


def test_run_file_imports_a_dag_file_from_anywhere_and_picks_the_dag(apd_dag_runner, tmp_path):
    path = tmp_path / "elsewhere" / "two_dags.py"
    path.parent.mkdir()
    shutil.copy(DAGS / "two_dags.py", path)
    with pytest.raises(LookupError, match="defines 2 matching DAGs; expected exactly one DAG"):
        apd_dag_runner.run_file(path)
    result = apd_dag_runner.run_file(path, dag_id="apd_from_file_b")
    assert result.state == "success", result.output[-3000:]
    assert result.xcom("named")["name"].startswith("b-")
    assert [r.name for r in result.resources("from-file")] == ["n"]


def test_state_dir_reads_the_stack_and_the_stand_in_journal(apd_dag_runner, apd_state, tmp_path):
    apd_dag_runner.run(KIT_DAG, run_conf={"folder": str(tmp_path / "f"), "marker": str(tmp_path / "m")})

    assert apd_state.stacks() == [("kit-files", "dev")]
    assert apd_state.stack_outputs("kit-files")["count"] == 2
    journal = apd_state.journal()
    assert journal and all("env_names" in record and "argv" in record for record in journal)
    assert apd_state.url == f"file://{apd_state.path}"


def test_run_source_removes_its_dag_file_so_later_runs_do_not_parse_it(apd_dag_runner):
    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    before = _files_under(dags)

    first = apd_dag_runner.run_source(LISTING, dag_id="apd_kit_listing_first")
    assert first.state == "success", first.output[-3000:]
    assert "apd_kit_listing_first.py" in first.xcom("dag_files")  # there while it ran
    second = apd_dag_runner.run_source(LISTING, dag_id="apd_kit_listing_second")
    assert second.state == "success", second.output[-3000:]
    assert "apd_kit_listing_second.py" in second.xcom("dag_files")
    assert "apd_kit_listing_first.py" not in second.xcom("dag_files")  # dag.test() parses the whole folder
    assert _files_under(dags) == before  # nothing left behind, bytecode included


def test_run_source_removes_a_dag_file_that_fails_to_import(apd_dag_runner):
    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    with pytest.raises(ZeroDivisionError):
        apd_dag_runner.run_source("# {dag_id}\n1 / 0\n", dag_id="apd_kit_broken")
    assert not (dags / "apd_kit_broken.py").exists()


def test_run_source_refuses_to_overwrite_a_file_in_the_dags_folder(apd_dag_runner):
    own = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "apd_kit_users_own.py"
    own.write_text("# a DAG file of the user's own\n")
    try:
        with pytest.raises(FileExistsError, match="apd_kit_users_own.py exists already.*run_file"):
            apd_dag_runner.run_source(LISTING, dag_id="apd_kit_users_own")
        assert own.read_text() == "# a DAG file of the user's own\n"
    finally:
        own.unlink()
