"""What every DAG of the distributed harness shares: one DAG per engine, the engine's executable named by
the harness (``APD_DIST_CLI_STANDIN``, ``APD_DIST_CLI_REAL``; no real CLI, no ``__real`` DAGs)."""

from __future__ import annotations

import os

import pendulum

START = pendulum.datetime(2026, 1, 1)


def engines() -> dict[str, str]:
    """``{engine: cli_path}`` for the engines this deployment has."""
    found = {"standin": os.environ.get("APD_DIST_CLI_STANDIN", ""), "real": os.environ.get("APD_DIST_CLI_REAL", "")}
    return {name: path for name, path in found.items() if path}
