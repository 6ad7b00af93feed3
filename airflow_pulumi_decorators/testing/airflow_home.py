"""A private ``AIRFLOW_HOME`` for a test session: its own SQLite metadata database, dags folder and logs.

Airflow reads ``AIRFLOW_HOME`` once, when ``airflow`` is first imported, so :func:`isolate_airflow_home`
must run before that: the pytest plugin calls it while pytest starts (``apd_isolated_airflow_home = true``
or ``--apd-isolated-airflow-home``), before any conftest or test module is imported. Nothing here imports
Airflow.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from airflow_pulumi_decorators.errors import ConfigurationError

#: Variables that would send a test run to a real Pulumi backend or decrypt real secrets.
PULUMI_VARIABLES = ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE",
                    "PULUMI_ACCESS_TOKEN")

_home: Path | None = None


def isolate_airflow_home(
    home: str | os.PathLike[str] | None = None, *, dags_folder: str | os.PathLike[str] | None = None
) -> Path:
    """Point Airflow at a private home and keep Pulumi away from real backends. Once per process: later
    calls return the first home.

    Sets ``AIRFLOW_HOME``, the dags folder, no example DAGs, ``NO_PROXY`` for loopback (a proxy would
    route even 127.0.0.1 away from the fakes), and removes ``PULUMI_BACKEND_URL``,
    ``PULUMI_CONFIG_PASSPHRASE[_FILE]`` and ``PULUMI_ACCESS_TOKEN``.

    :param home: the folder to use; default a new temporary folder.
    :param dags_folder: Airflow's dags folder; default ``<home>/dags``.
    :return: the home.
    :raises ConfigurationError: if Airflow's configuration was already loaded (with another home).
    """
    global _home
    if _home is not None:
        return _home
    loaded = getattr(sys.modules.get("airflow.configuration"), "AIRFLOW_HOME", None)
    if loaded and (home is None or Path(loaded).resolve() != Path(home).resolve()):
        raise ConfigurationError(
            f"Airflow was imported before the isolated AIRFLOW_HOME was set up and already uses {loaded}; "
            "enable the isolated home with `apd_isolated_airflow_home = true` in the pytest configuration "
            "(or pass --apd-isolated-airflow-home) and import Airflow only in conftest or test modules"
        )
    path = Path(home) if home is not None else Path(tempfile.mkdtemp(prefix="apd-airflow-home-"))
    dags = Path(dags_folder) if dags_folder is not None else path / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "AIRFLOW_HOME": str(path),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    # Airflow's generated key is 22 bytes; PyJWT warns below the 64 an HMAC-SHA512 key wants.
    os.environ.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", secrets.token_urlsafe(64))
    for name in PULUMI_VARIABLES:
        os.environ.pop(name, None)
    _home = path
    return path


def isolated_airflow_home() -> Path | None:
    """The home :func:`isolate_airflow_home` set up in this process, or ``None``."""
    return _home


def migrate_database(home: Path) -> Path:
    """Create the metadata database of ``home`` (``airflow db migrate``) unless done already.

    :param home: an isolated home.
    :return: the home.
    """
    marker = home / ".apd-migrated"
    if not marker.exists():
        airflow = Path(sys.executable).with_name("airflow")
        command = [str(airflow)] if airflow.exists() else [sys.executable, "-m", "airflow"]
        done = subprocess.run([*command, "db", "migrate"], capture_output=True, text=True,
                              env={**os.environ, "AIRFLOW_HOME": str(home)})
        if done.returncode != 0:
            raise RuntimeError(f"`airflow db migrate` failed in {home}:\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
        marker.touch()
    return home
