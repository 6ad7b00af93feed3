"""ApplicationDefault: ADC order without google.auth.default()'s side trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_pulumi_decorators.errors import ConfigurationError
from airflow_pulumi_decorators.identity import ApplicationDefault, obtain_engine_credentials

from .conftest import CLOUD


@pytest.fixture(autouse=True)
def _empty_gcloud_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "gcloud"
    config.mkdir()
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(config))
    return config


def test_validation() -> None:
    with pytest.raises(ConfigurationError, match="quota_project_id"):
        ApplicationDefault(quota_project_id="")


def test_external_account_file_without_project_lookup(fake, subject_file, tmp_path, monkeypatch, masked) -> None:  # noqa: ANN001
    path = tmp_path / "adc.json"
    path.write_text(json.dumps(fake.external_account_config(subject_token_file=subject_file)))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    identity = ApplicationDefault(quota_project_id="billing-project")
    assert "adc.json" in identity.describe()
    with obtain_engine_credentials(identity, mask=masked.append, mode="refreshable") as creds:
        # ADC passes through: GOOGLE_APPLICATION_CREDENTIALS is not removed, the overrides are.
        assert "GOOGLE_APPLICATION_CREDENTIALS" not in creds.env
        assert creds.env["GOOGLE_OAUTH_ACCESS_TOKEN"] is None
    # One STS exchange and nothing else: no Cloud Resource Manager project lookup, no metadata ping.
    assert [r.endpoint for r in fake.requests] == ["sts"]
    assert fake.requests[0].form["scope"] == CLOUD


def test_service_account_key_refused(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    path = tmp_path / "key.json"
    path.write_text(json.dumps({"type": "service_account", "private_key": "x"}))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    with pytest.raises(ConfigurationError, match="keyless identities only"):
        ApplicationDefault().check_runtime()


def test_missing_explicit_file(monkeypatch, tmp_path) -> None:  # noqa: ANN001
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "nope.json"))
    with pytest.raises(ConfigurationError, match="does not exist"):
        obtain_engine_credentials(ApplicationDefault(), mask=lambda _: None)


def test_gcloud_user_file_loads_without_http(_empty_gcloud_config: Path) -> None:
    (_empty_gcloud_config / "application_default_credentials.json").write_text(
        json.dumps({"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r", "account": "dev@example.com"})
    )
    identity = ApplicationDefault()
    creds = identity.google_credentials()
    assert type(creds).__module__ == "google.oauth2.credentials"
    assert identity.principal(creds) == "dev@example.com"


def test_falls_back_to_metadata_server(fake, monkeypatch, masked) -> None:  # noqa: ANN001
    monkeypatch.setenv("GCE_METADATA_HOST", fake.metadata_host)
    identity = ApplicationDefault()
    assert identity.source_description() == "metadata server"
    with obtain_engine_credentials(identity, mask=masked.append, mode="refreshable") as creds:
        assert creds.principal == fake.metadata_email
        assert creds.env["GCE_METADATA_HOST"] == fake.metadata_host
    assert [r.endpoint for r in fake.requests] == ["metadata_info", "metadata_token"]  # no ping


def test_key_nested_in_impersonated_service_account_refused(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    path = tmp_path / "adc.json"
    path.write_text(json.dumps({
        "type": "impersonated_service_account",
        "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/a@b.iam.gserviceaccount.com:generateAccessToken",
        "source_credentials": {"type": "service_account", "private_key": "x"},
    }))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    with pytest.raises(ConfigurationError, match="keyless"):
        ApplicationDefault().check_runtime()
