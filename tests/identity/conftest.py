"""Fixtures: loopback-only hygiene and a mask recorder (the fake token server and the subject token file
are test-wide fixtures in tests/conftest.py)."""

from __future__ import annotations

import pytest

SA = "deployer@acme-prod.iam.gserviceaccount.com"
DELEGATE = "broker@acme-shared.iam.gserviceaccount.com"
CLOUD = "https://www.googleapis.com/auth/cloud-platform"
IAM = "https://www.googleapis.com/auth/iam"


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # An HTTP(S)_PROXY without NO_PROXY would route even 127.0.0.1 through the proxy.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    # Never let a developer's real ADC or metadata settings leak into a test.
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "GCE_METADATA_HOST", "GCE_METADATA_ROOT", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def masked() -> list[str]:
    return []


def no_sleep(_: float) -> None:
    pass
