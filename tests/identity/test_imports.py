"""Importing the identity package must stay cheap: the DAG processor imports it on every parse."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import airflow_pulumi_decorators.identity as identity
from airflow_pulumi_decorators.identity import *  # noqa: F403
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("pulumi", "grpc") or m.startswith(("google.auth", "airflow.sdk")) or m == "airflow")
assert not heavy, heavy
print(len(identity.__all__))
"""


def test_import_pulls_in_neither_google_auth_nor_airflow_sdk_nor_pulumi() -> None:
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 8


def test_all_names_exist() -> None:
    import airflow_pulumi_decorators.identity as identity

    for name in identity.__all__:
        assert hasattr(identity, name), name
    for name in (
        "GkeMetadataServer", "WorkloadIdentityFederation", "ServiceAccountImpersonation", "ApplicationDefault",
        "Identity", "obtain_engine_credentials", "EngineCredentials", "CredentialMode", "identity_from_connection",
    ):
        assert name in identity.__all__
