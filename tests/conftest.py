"""Test-wide set-up: a private AIRFLOW_HOME (migrated once per run), loopback-only networking hygiene.

AIRFLOW_HOME must be set before anything imports Airflow, so it is set at import of this conftest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_pulumi_decorators.testing.google import FakeGoogleTokenServer

_HOME = Path(tempfile.mkdtemp(prefix="apd-airflow-home-"))
(_HOME / "dags").mkdir()
os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(_HOME / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        # Proxies would route even 127.0.0.1 away from our loopback fakes.
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
)
for _var in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_ACCESS_TOKEN"):
    os.environ.pop(_var, None)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    """A migrated Airflow metadata database (SQLite) in a private AIRFLOW_HOME, once per test run."""
    marker = _HOME / ".migrated"
    if not marker.exists():
        airflow = Path(sys.executable).with_name("airflow")
        subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
        marker.touch()
    return _HOME


@pytest.fixture
def fake() -> Iterator[FakeGoogleTokenServer]:
    """Google's token endpoints (STS, IAM Credentials, metadata server) on loopback."""
    with FakeGoogleTokenServer(check_subject_token=True) as server:
        yield server


@pytest.fixture
def subject_file(tmp_path: Path, fake: FakeGoogleTokenServer) -> Path:
    """A file holding the fake's subject token, as a workload's OIDC token file would."""
    path = tmp_path / "oidc-token"
    path.write_text(fake.subject_token)
    return path


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_HOME, ignore_errors=True)


pytest_plugins = ["tests.dagrun", "tests.engines"]
