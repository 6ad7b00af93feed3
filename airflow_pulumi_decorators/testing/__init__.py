"""Offline test support, public so users can test their own DAGs the way we test ours (the ``testing``
extra: ``pip install "airflow-pulumi-decorators[testing]"``).

- The pytest plugin (:mod:`airflow_pulumi_decorators.testing.pytest_plugin`, loaded by pytest's entry
  point): an isolated Airflow home, engines, a state folder, a DAG runner and the fake token server as
  ``apd_*`` fixtures.
- :class:`DagRunner` (:mod:`airflow_pulumi_decorators.testing.dagrun`): run a DAG or one task with
  ``dag.test()`` and read back states, XComs, resources, operations and the engine's environment.
- :func:`run_program` (:mod:`airflow_pulumi_decorators.testing.mocks`): a program alone on Pulumi's mocks.
- :class:`StandinCommand` and the ``pulumi-standin`` executable: an engine that speaks the ``pulumi`` CLI
  contract the Automation API uses, records state under a ``file://`` backend and creates no cloud
  resources (:mod:`airflow_pulumi_decorators.testing.standin`).
- :class:`FakeGoogleTokenServer`: Google's token endpoints (STS, IAM Credentials, metadata server) on
  127.0.0.1 (:mod:`airflow_pulumi_decorators.testing.google`); ``apd-fake-google`` runs it as a process.

Loaded lazily: importing this package loads neither Airflow, Pulumi nor gRPC.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["DagRunner", "FakeGoogleTokenServer", "StandinCommand", "StateDir", "read_journal", "run_program"]

_LAZY = {
    "StandinCommand": "airflow_pulumi_decorators.testing.standin",
    "read_journal": "airflow_pulumi_decorators.testing.standin",
    "FakeGoogleTokenServer": "airflow_pulumi_decorators.testing.google",
    "DagRunner": "airflow_pulumi_decorators.testing.dagrun",
    "StateDir": "airflow_pulumi_decorators.testing.dagrun",
    "run_program": "airflow_pulumi_decorators.testing.mocks",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'airflow_pulumi_decorators.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
