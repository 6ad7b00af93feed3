"""The ``[pulumi]`` section of Airflow's configuration and the embedded defaults.

Read at task start, never at import: ``AIRFLOW__PULUMI__CLI_PATH`` and friends override ``airflow.cfg``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

SECTION = "pulumi"

#: Where the embedded default ``file://`` backend keeps state, below ``$AIRFLOW_HOME``.
DEFAULT_STATE_SUBDIR = os.path.join("pulumi", "state")


def get_option(key: str, fallback: str | None = None) -> str | None:
    """One ``[pulumi]`` option from Airflow's configuration (environment variables included).

    :param key: the option, e.g. ``cli_path``.
    :param fallback: returned when the option is not set.
    """
    env_value = os.environ.get(f"AIRFLOW__{SECTION.upper()}__{key.upper()}")
    if env_value is not None:
        return env_value or fallback
    try:
        from airflow.sdk.configuration import conf
    except ImportError:  # pragma: no cover - Airflow < 3.1 exposes it elsewhere
        from airflow.configuration import conf
    value = conf.get(SECTION, key, fallback=fallback)
    return value if value not in ("", None) else fallback


def airflow_home() -> str:
    """``$AIRFLOW_HOME``, defaulting like Airflow does."""
    return os.path.expanduser(os.environ.get("AIRFLOW_HOME") or os.path.join("~", "airflow"))


def embedded_backend_url() -> str:
    """The embedded default backend: a local ``file://`` directory under ``$AIRFLOW_HOME`` (created)."""
    path = os.path.join(airflow_home(), DEFAULT_STATE_SUBDIR)
    os.makedirs(path, exist_ok=True)
    return "file://" + os.path.abspath(path)


def backend_url(environment_backend: str | None, environ: Mapping[str, str] = os.environ) -> str:
    """The backend for a run, first match wins: the environment's ``backend_url``, ``PULUMI_BACKEND_URL``,
    ``[pulumi] backend_url``, then the embedded default.

    :param environment_backend: the :class:`~airflow_pulumi_decorators.Environment`'s ``backend_url``.
    :param environ: the worker's environment.
    """
    return (
        environment_backend
        or environ.get("PULUMI_BACKEND_URL")
        or get_option("backend_url")
        or embedded_backend_url()
    )
