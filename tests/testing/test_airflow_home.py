"""The private ``AIRFLOW_HOME`` of a test session (:mod:`airflow_pulumi_decorators.testing.airflow_home`).

:func:`isolate_airflow_home` works once per process, before Airflow is imported, so each case runs in a
fresh Python; the plugin's use of it is in ``test_pytest_plugin.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from airflow_pulumi_decorators.testing.airflow_home import PULUMI_VARIABLES, migrate_database

REPO = Path(__file__).resolve().parents[2]


def _python(code: str, **env: str) -> dict:
    """Run ``code`` in a fresh Python (it prints one JSON value) and return what it printed."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_isolates_once_per_process_and_keeps_pulumi_away_from_real_backends(tmp_path):
    seen = _python(
        "import json, os\n"
        "from airflow_pulumi_decorators.testing.airflow_home import isolate_airflow_home, isolated_airflow_home\n"
        f"home = isolate_airflow_home({str(tmp_path / 'home')!r})\n"
        "again = isolate_airflow_home()\n"
        "print(json.dumps({'home': str(home), 'again': str(again), 'isolated': str(isolated_airflow_home()),\n"
        "  'env': {k: os.environ.get(k) for k in ('AIRFLOW_HOME', 'AIRFLOW__CORE__DAGS_FOLDER',\n"
        "    'AIRFLOW__CORE__LOAD_EXAMPLES', 'NO_PROXY', 'PULUMI_BACKEND_URL', 'PULUMI_CONFIG_PASSPHRASE',\n"
        "    'PULUMI_CONFIG_PASSPHRASE_FILE', 'PULUMI_ACCESS_TOKEN')}}))\n",
        PULUMI_BACKEND_URL="gs://real-state", PULUMI_CONFIG_PASSPHRASE="real", PULUMI_ACCESS_TOKEN="pul-real",
        PULUMI_CONFIG_PASSPHRASE_FILE="/real/passphrase",
    )
    home = str(tmp_path / "home")
    assert seen["home"] == seen["again"] == seen["isolated"] == home
    env = seen["env"]
    assert env["AIRFLOW_HOME"] == home and env["AIRFLOW__CORE__DAGS_FOLDER"] == os.path.join(home, "dags")
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False" and "127.0.0.1" in env["NO_PROXY"]
    assert all(env[name] is None for name in PULUMI_VARIABLES)
    assert (tmp_path / "home" / "dags").is_dir()


def test_a_new_temporary_home_and_an_own_dags_folder(tmp_path):
    seen = _python(
        "import json, os\n"
        "from airflow_pulumi_decorators.testing.airflow_home import isolate_airflow_home\n"
        f"home = isolate_airflow_home(dags_folder={str(tmp_path / 'my_dags')!r})\n"
        "print(json.dumps({'home': str(home), 'dags': os.environ['AIRFLOW__CORE__DAGS_FOLDER']}))\n"
    )
    assert os.path.basename(seen["home"]).startswith("apd-airflow-home-")
    assert seen["dags"] == str(tmp_path / "my_dags") and (tmp_path / "my_dags").is_dir()
    os.rmdir(seen["home"])  # empty: the dags folder is elsewhere


def test_airflow_imported_first_is_a_configuration_error(tmp_path):
    seen = _python(
        "import json, airflow.configuration\n"
        "from airflow_pulumi_decorators.errors import ConfigurationError\n"
        "from airflow_pulumi_decorators.testing.airflow_home import isolate_airflow_home\n"
        "try:\n"
        f"    isolate_airflow_home({str(tmp_path / 'late')!r})\n"
        "    print(json.dumps(None))\n"
        "except ConfigurationError as exc:\n"
        "    print(json.dumps(str(exc)))\n",
        AIRFLOW_HOME=str(tmp_path / "early"),
    )
    assert seen is not None and "Airflow was imported before the isolated AIRFLOW_HOME was set up" in seen
    assert str(tmp_path / "early") in seen


def test_migrate_database_runs_once_per_home(tmp_path):
    (tmp_path / ".apd-migrated").touch()
    assert migrate_database(tmp_path) == tmp_path  # marked: nothing runs
    assert not (tmp_path / "airflow.db").exists()
