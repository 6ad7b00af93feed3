"""Offline test support, public so users can test their own DAGs the way we test ours.

- :class:`StandinCommand` and the ``pulumi-standin`` executable: an engine that speaks the ``pulumi`` CLI
  contract the Automation API uses, records state under a ``file://`` backend and creates no cloud
  resources (:mod:`airflow_pulumi_decorators.testing.standin`).
- :class:`FakeGoogleTokenServer`: Google's token endpoints (STS, IAM Credentials, metadata server) on
  127.0.0.1 (:mod:`airflow_pulumi_decorators.testing.google`).

Loaded lazily: importing this package loads neither Pulumi nor gRPC.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["FakeGoogleTokenServer", "StandinCommand", "read_journal"]

_LAZY = {
    "StandinCommand": "airflow_pulumi_decorators.testing.standin",
    "read_journal": "airflow_pulumi_decorators.testing.standin",
    "FakeGoogleTokenServer": "airflow_pulumi_decorators.testing.google",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'airflow_pulumi_decorators.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
