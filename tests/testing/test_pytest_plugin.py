"""The test kit as a user gets it: the pytest plugin loaded from its entry point into a user's pytest run
(``pytester``), and its fixtures and DAG runner used directly by this suite."""

from __future__ import annotations

import os
import shutil
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pendulum
import pytest
from airflow.sdk import DAG, task

from airflow_pulumi_decorators import pulumi_stack
from airflow_pulumi_decorators.testing.dagrun import PASSPHRASE

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "testing" / "project"
PLUGIN = "airflow_pulumi_decorators.testing.pytest_plugin"


def test_the_plugin_is_installed_as_a_pytest11_entry_point():
    found = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert found.get("airflow_pulumi_decorators") == PLUGIN, (
        "reinstall the package (bash scripts/bootstrap.sh) to register the entry point"
    )


# -- loading and the isolated home, in fresh pytest processes ----------------------------------------


def test_loading_the_plugin_imports_nothing_heavy_and_changes_no_environment(pytester, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", "/users/own/airflow-home")
    monkeypatch.setenv("PULUMI_BACKEND_URL", "gs://users-own-state")
    pytester.makepyfile(test_user="""
        import os, sys

        def test_untouched(request):
            assert request.config.pluginmanager.has_plugin("airflow_pulumi_decorators")
            heavy = [m for m in sys.modules if m.split(".")[0] in ("airflow", "pulumi", "grpc", "google")]
            assert heavy == []
            assert os.environ["AIRFLOW_HOME"] == "/users/own/airflow-home"
            assert os.environ["PULUMI_BACKEND_URL"] == "gs://users-own-state"
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_isolated_home_is_set_before_a_conftest_imports_airflow(pytester, monkeypatch, tmp_path):
    outer = os.environ["AIRFLOW_HOME"]
    monkeypatch.setenv("PULUMI_ACCESS_TOKEN", "pul-users-real-token")
    monkeypatch.setenv("PULUMI_BACKEND_URL", "gs://users-real-state")
    seen = tmp_path / "seen-home"
    pytester.makeini("[pytest]\napd_isolated_airflow_home = true\n")
    pytester.makeconftest("import airflow.configuration  # Airflow reads AIRFLOW_HOME now\n")
    pytester.makepyfile(test_user=f"""
        import os
        import airflow.configuration

        def test_home():
            home = airflow.configuration.AIRFLOW_HOME
            open({str(seen)!r}, "w").write(home)
            assert home == os.environ["AIRFLOW_HOME"] != {outer!r}
            assert os.path.basename(home).startswith("apd-airflow-home-")
            assert os.environ["AIRFLOW__CORE__DAGS_FOLDER"] == os.path.join(home, "dags")
            assert "PULUMI_ACCESS_TOKEN" not in os.environ and "PULUMI_BACKEND_URL" not in os.environ
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert not Path(seen.read_text()).exists()  # removed when the session ends


def test_the_command_line_option_and_a_dags_folder_from_the_ini(pytester):
    pytester.makeini("[pytest]\napd_dags_folder = my_dags\n")
    pytester.makepyfile(test_user="""
        import os

        def test_home(request):
            assert os.environ["AIRFLOW__CORE__DAGS_FOLDER"] == str(request.config.rootpath / "my_dags")
            assert os.path.basename(os.environ["AIRFLOW_HOME"]).startswith("apd-airflow-home-")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--apd-isolated-airflow-home")
    result.assert_outcomes(passed=1)


def test_the_home_fixture_without_isolation_fails_and_says_how_to_fix_it(pytester):
    pytester.makepyfile(test_user="def test_needs_home(apd_airflow_home): pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*needs the isolated Airflow home: add `apd_isolated_airflow_home = true`*"])


def test_airflow_imported_before_the_isolation_is_a_usage_error(pytester, monkeypatch):
    pytester.makepyfile(early_plugin="import airflow.configuration\n")
    monkeypatch.setenv("PYTHONPATH", str(pytester.path), prepend=os.pathsep)
    pytester.makepyfile(test_user="def test_x(): pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "early_plugin",
                                           "--apd-isolated-airflow-home")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*Airflow was imported before the isolated AIRFLOW_HOME was set up*"])


# -- engines: ini, option, marker, explicit parametrize ------------------------------------------------

ENGINE_TESTS = """
    import pytest

    def test_default(apd_engine): pass

    @pytest.mark.apd_engines("real")
    def test_marked(apd_engine): pass

    @pytest.mark.parametrize("apd_engine", ["standin"], indirect=True)
    def test_explicit(apd_engine): pass

    def test_without_engine(): pass
"""


def test_engines_come_from_the_ini_the_option_and_the_marker(pytester):
    pytester.makeini("[pytest]\napd_engines = standin standin-exe\n")
    pytester.makepyfile(test_user=ENGINE_TESTS)
    ids = _collected(pytester.runpytest_inprocess("--collect-only", "-q", "-p", "no:cacheprovider"))
    assert ids == ["test_default[standin]", "test_default[standin-exe]", "test_marked[real]",
                   "test_explicit[standin]", "test_without_engine"]
    ids = _collected(pytester.runpytest_inprocess("--collect-only", "-q", "-p", "no:cacheprovider",
                                                  "--apd-engines=real"))
    assert ids[:2] == ["test_default[real]", "test_marked[real]"]


def test_an_unknown_engine_is_a_usage_error(pytester):
    pytester.makeini("[pytest]\napd_engines = standin pulumi-cloud\n")
    pytester.makepyfile(test_user=ENGINE_TESTS)
    result = pytester.runpytest_inprocess("--collect-only", "-q", "-p", "no:cacheprovider")
    assert result.ret != 0
    assert (
        "unknown engine(s) 'pulumi-cloud'; use standin, standin-exe, real" in result.stdout.str() + result.stderr.str()
    )


def _collected(result) -> list[str]:
    return [line.split("::", 1)[1] for line in result.stdout.lines if "::" in line]


# -- the complete example, as a user runs it ------------------------------------------------------------


def test_the_documented_example_project_passes(pytester):
    shutil.copytree(EXAMPLE, pytester.path, dirs_exist_ok=True)  # its pyproject.toml configures the kit
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=600)
    result.assert_outcomes(passed=4)


# -- the runner, used by this suite directly ---------------------------------------------------------------

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
    path.write_text(textwrap.dedent("""
        import pendulum
        from airflow.sdk import DAG, task
        from airflow_pulumi_decorators import pulumi_stack

        @pulumi_stack(project="from-file", stack="dev")
        def named(prefix: str):
            from airflow_pulumi_decorators.testing.resources import FakeName
            return {"name": FakeName("n", prefix=prefix).name}

        with DAG("apd_from_file_a", schedule=None, start_date=pendulum.datetime(2026, 1, 1)) as a:
            named("a")
        with DAG("apd_from_file_b", schedule=None, start_date=pendulum.datetime(2026, 1, 1)) as b:
            named("b")
    """))
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


# -- the testing extra -----------------------------------------------------------------------------------


def test_only_the_test_kit_imports_the_testing_extra():
    """The runtime install has no `testing` extra: nothing outside testing/ may import what only it brings."""
    import ast

    import tomllib

    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["testing"]
    modules = {requirement.split(">")[0].split("=")[0].split("[")[0].strip() for requirement in extra}
    assert modules == {"cryptography", "pytest"}  # keep this test's list in step with the extra
    offenders = []
    for path in (REPO / "airflow_pulumi_decorators").rglob("*.py"):
        if "testing" in path.relative_to(REPO / "airflow_pulumi_decorators").parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in modules | {"_pytest"}]
    assert offenders == []
