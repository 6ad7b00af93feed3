"""pytest plugin: fixtures to test DAGs that use ``@pulumi_stack``, offline, on the stand-in or a real CLI.

Installed with the package (entry point ``pytest11``: ``airflow_pulumi_decorators``; disable it with
``-p no:airflow_pulumi_decorators``). Loading it is cheap and changes nothing: Airflow is not imported and
``AIRFLOW_HOME`` is left alone unless you ask for the isolated home.

Configuration (``[tool.pytest.ini_options]`` in ``pyproject.toml``, or ``pytest.ini``):

``apd_isolated_airflow_home = true`` (or ``--apd-isolated-airflow-home``)
    Point Airflow at a temporary home while pytest starts, before any conftest or test module imports
    Airflow (Airflow reads ``AIRFLOW_HOME`` only once). Needed by ``apd_airflow_home`` and the runners.
``apd_dags_folder = dags`` (or ``--apd-dags-folder=dags``)
    Airflow's dags folder in the isolated home (relative to the configuration file); default an empty
    folder in the home. Your DAGs need not be there: the runners record any DAG they run.
``apd_engines = standin`` (or ``--apd-engines=standin,real``)
    The engines every test that uses ``apd_engine`` runs on: ``standin`` (in-process stand-in),
    ``standin-exe`` (the ``pulumi-standin`` executable), ``real`` (a real ``pulumi`` CLI, from
    ``APD_REAL_PULUMI`` or PATH; the test skips without one). ``@pytest.mark.apd_engines(...)`` picks
    them for one test.

Fixtures: ``apd_airflow_home``, ``apd_state``, ``apd_engine``, ``apd_dag_runner``, ``apd_fake_google``,
``apd_subject_token_file``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from airflow_pulumi_decorators.testing.airflow_home import isolate_airflow_home, isolated_airflow_home

if TYPE_CHECKING:
    from airflow_pulumi_decorators.testing.dagrun import DagRunner, StateDir
    from airflow_pulumi_decorators.testing.engines import EngineKit
    from airflow_pulumi_decorators.testing.google import FakeGoogleTokenServer

_KNOWN_ENGINES = ("standin", "standin-exe", "real")  # engines.ENGINES, without importing it at load
_HOME_KEY = pytest.StashKey[Path]()

NEEDS_ISOLATED_HOME = (
    "the apd_airflow_home fixture needs the isolated Airflow home: add `apd_isolated_airflow_home = true` "
    "to [tool.pytest.ini_options] (or pass --apd-isolated-airflow-home). It must be set up as pytest starts, "
    "before anything imports Airflow, which reads AIRFLOW_HOME only once."
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("airflow-pulumi-decorators", "airflow-pulumi-decorators test kit")
    group.addoption("--apd-isolated-airflow-home", action="store_true", default=None,
                    dest="apd_isolated_airflow_home",
                    help="run with a temporary AIRFLOW_HOME (ini: apd_isolated_airflow_home)")
    group.addoption("--apd-dags-folder", default=None, dest="apd_dags_folder",
                    help="Airflow's dags folder in the isolated home (ini: apd_dags_folder)")
    group.addoption("--apd-engines", default=None, dest="apd_engines",
                    help="comma-separated engines for the apd_engine fixture: standin, standin-exe, real "
                         "(ini: apd_engines; default standin)")
    parser.addini("apd_isolated_airflow_home", type="bool", default=False,
                  help="run with a temporary AIRFLOW_HOME, set up before Airflow is imported")
    parser.addini("apd_dags_folder", type="string", default="",
                  help="Airflow's dags folder in the isolated home, relative to the configuration file")
    parser.addini("apd_engines", type="args", default=["standin"],
                  help="engines the apd_engine fixture runs each test on: standin standin-exe real")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    # Before conftest files are imported: the earliest a plugin can set AIRFLOW_HOME.
    options = early_config.known_args_namespace
    wanted = getattr(options, "apd_isolated_airflow_home", None)
    if not (wanted if wanted is not None else early_config.getini("apd_isolated_airflow_home")):
        return
    if isolated_airflow_home() is not None:
        return  # an outer session in this process set it up (pytester's in-process runs)
    from airflow_pulumi_decorators.errors import ConfigurationError

    dags = getattr(options, "apd_dags_folder", None) or early_config.getini("apd_dags_folder")
    if dags and not Path(dags).is_absolute():
        dags = str((early_config.inipath.parent if early_config.inipath else Path.cwd()) / dags)
    try:
        home = isolate_airflow_home(dags_folder=dags or None)
    except ConfigurationError as error:
        raise pytest.UsageError(str(error)) from None
    early_config.stash[_HOME_KEY] = home


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "apd_engines(*names): the engines the apd_engine fixture runs this test on "
                   "(standin, standin-exe, real)")


def pytest_unconfigure(config: pytest.Config) -> None:
    home = config.stash.get(_HOME_KEY, None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "apd_engine" not in metafunc.fixturenames:
        return
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        if "apd_engine" in names:
            return  # the test chose its engines itself
    engines = engines_for(metafunc.config, metafunc.definition.get_closest_marker("apd_engines"))
    metafunc.parametrize("apd_engine", engines, indirect=True, ids=engines)


def engines_for(config: pytest.Config, marker: pytest.Mark | None = None) -> list[str]:
    """The engines a test runs on: its ``apd_engines`` marker, else ``--apd-engines``, else the ini.

    :raises pytest.UsageError: for an unknown engine name.
    """
    if marker is not None:
        names = list(marker.args)
    elif config.getoption("apd_engines", None):
        names = [n.strip() for n in config.getoption("apd_engines").split(",") if n.strip()]
    else:
        names = list(config.getini("apd_engines"))
    unknown = [n for n in names if n not in _KNOWN_ENGINES]
    if unknown or not names:
        raise pytest.UsageError(
            f"apd_engines: unknown engine(s) {', '.join(map(repr, unknown)) or '(none given)'}; "
            f"use {', '.join(_KNOWN_ENGINES)}"
        )
    return names


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def apd_airflow_home() -> Path:
    """The isolated Airflow home, its metadata database migrated (once per session)."""
    from airflow_pulumi_decorators.testing.airflow_home import migrate_database

    home = isolated_airflow_home()
    if home is None:
        pytest.fail(NEEDS_ISOLATED_HOME, pytrace=False)
    return migrate_database(home)


@pytest.fixture
def apd_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StateDir:
    """A fresh ``file://`` Pulumi backend for this test (``PULUMI_BACKEND_URL`` and a passphrase are set)."""
    from airflow_pulumi_decorators.testing.dagrun import PASSPHRASE, StateDir

    path = tmp_path / "state"
    path.mkdir()
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{path}")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    return StateDir(path)


@pytest.fixture
def apd_engine(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> EngineKit:
    """The engine the DAG runs use; parametrised by ``apd_engines`` (default: the in-process stand-in)."""
    from airflow_pulumi_decorators.testing.engines import engine_kit

    name = getattr(request, "param", None) or engines_for(request.config)[0]
    return engine_kit(name, tmp_path / "apd-engine", monkeypatch)


@pytest.fixture
def apd_dag_runner(
    apd_airflow_home: Path, apd_engine: EngineKit, apd_state: StateDir, capfd: pytest.CaptureFixture[str]
) -> DagRunner:
    """Runs a DAG or one task with ``dag.test()`` on ``apd_engine`` and returns what happened."""
    from airflow_pulumi_decorators.testing.dagrun import DagRunner

    return DagRunner(apd_engine, apd_state, capfd.readouterr)


@pytest.fixture
def apd_fake_google() -> Iterator[FakeGoogleTokenServer]:
    """Google's token endpoints (STS, IAM Credentials, metadata server) on 127.0.0.1; STS accepts only
    its random subject token."""
    from airflow_pulumi_decorators.testing.google import FakeGoogleTokenServer

    with FakeGoogleTokenServer(check_subject_token=True) as server:
        yield server


@pytest.fixture
def apd_subject_token_file(tmp_path: Path, apd_fake_google: FakeGoogleTokenServer) -> Path:
    """A file holding ``apd_fake_google``'s subject token, as a workload's OIDC token file would."""
    path = tmp_path / "oidc-token"
    path.write_text(apd_fake_google.subject_token)
    return path
