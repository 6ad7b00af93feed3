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
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "c",
                "client_secret": "s",
                "refresh_token": "r",
                "account": "dev@example.com",
            }
        )
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


# -- the hand-off to the engine ---------------------------------------------------------------------


def test_refreshable_hand_off_passes_the_workers_adc_through(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from airflow_pulumi_decorators.identity import CREDENTIAL_ENV_VARS

    passed_through = {name: None for name in CREDENTIAL_ENV_VARS if name != "GOOGLE_APPLICATION_CREDENTIALS"}
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    # No ADC file: the engine's ADC falls to the metadata server, which it is pointed at.
    assert ApplicationDefault().refreshable_env().env == {**passed_through, "GCE_METADATA_HOST": "127.0.0.1:9"}
    path = tmp_path / "adc.json"
    path.write_text(
        json.dumps({"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"})
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    handoff = ApplicationDefault().refreshable_env()  # the file wins: no metadata host
    assert handoff.env == passed_through and handoff.credential_config is None
    assert ApplicationDefault().configured_lifetime() is None


def test_refreshable_impersonation_over_adc_keeps_the_file() -> None:
    from airflow_pulumi_decorators.identity import ServiceAccountImpersonation

    from .conftest import DELEGATE, SA

    handoff = ServiceAccountImpersonation(SA, source=ApplicationDefault()).refreshable_env()
    assert handoff.env["GOOGLE_IMPERSONATE_SERVICE_ACCOUNT"] == SA
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in handoff.env and handoff.notice
    with pytest.raises(ConfigurationError, match="remove delegates"):
        ServiceAccountImpersonation(SA, source=ApplicationDefault(), delegates=[DELEGATE]).check_refreshable()
