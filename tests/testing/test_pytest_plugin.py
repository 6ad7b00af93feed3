"""The test kit as a user gets it: the pytest plugin loaded from its entry point into a user's pytest run
(``pytester``). Its DAG runner, used directly, is tested in ``test_dagrun.py``."""

from __future__ import annotations

import os
import shutil
from importlib.metadata import entry_points
from pathlib import Path

import pytest

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
    result.assert_outcomes(passed=5)


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
