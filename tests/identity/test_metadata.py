"""GkeMetadataServer against the fake metadata server, with real google-auth over HTTP."""

from __future__ import annotations

import pytest

from airflow_pulumi_decorators.errors import ConfigurationError, IdentityError
from airflow_pulumi_decorators.identity import GkeMetadataServer, obtain_engine_credentials
from airflow_pulumi_decorators.testing.google import status

from .conftest import CLOUD, no_sleep


def test_validation() -> None:
    assert GkeMetadataServer(metadata_host="http://127.0.0.1:8080/").metadata_host == "127.0.0.1:8080"
    with pytest.raises(ConfigurationError, match="metadata_host"):
        GkeMetadataServer(metadata_host="not a host")
    with pytest.raises(ConfigurationError, match="service_account"):
        GkeMetadataServer(service_account="me@example.com")


def test_two_round_trips_with_flavor_header_and_scopes(fake, masked) -> None:  # noqa: ANN001
    scopes = [CLOUD, "https://www.googleapis.com/auth/userinfo.email"]
    identity = GkeMetadataServer(scopes=scopes, metadata_host=fake.metadata_host)
    with obtain_engine_credentials(identity, mask=masked.append) as creds:
        assert creds.principal == fake.metadata_email
        assert creds.http_requests == 2
    info, token = fake.requests
    assert (info.endpoint, info.query) == ("metadata_info", {"recursive": "true"})
    assert token.endpoint == "metadata_token"
    assert token.query["scopes"].split(",") == scopes
    assert all("metadata-flavor" in r.header_names for r in fake.requests)
    assert creds.env["GOOGLE_OAUTH_ACCESS_TOKEN"] in fake.issued_tokens()


def test_metadata_host_read_from_environment_at_call_time(fake, masked, monkeypatch) -> None:  # noqa: ANN001
    # google-auth read GCE_METADATA_HOST once, at import (already done by earlier tests); we re-read it.
    import google.auth.compute_engine._metadata  # noqa: F401  (make sure it was imported before the env var)

    monkeypatch.setenv("GCE_METADATA_HOST", fake.metadata_host)
    identity = GkeMetadataServer()
    assert identity.metadata_host_override() == fake.metadata_host
    with obtain_engine_credentials(identity, mask=masked.append) as creds:
        assert creds.principal == fake.metadata_email
    assert [r.endpoint for r in fake.requests] == ["metadata_info", "metadata_token"]


def test_not_found_is_permanent_with_hint(fake, masked) -> None:  # noqa: ANN001
    fake.inject("metadata_info", status(404, description="no such account"))
    with pytest.raises(IdentityError) as caught:
        obtain_engine_credentials(
            GkeMetadataServer(metadata_host=fake.metadata_host), mask=masked.append, sleep=no_sleep
        )
    err = caught.value
    assert err.status == 404 and "computeMetadata" in (err.endpoint or "")
    assert "iam.gke.io/gcp-service-account" in str(err)
    assert len(fake.requests) == 1  # google-auth's own 5-attempt metadata retry did not kick in


def test_unreachable_metadata_server_is_transient_then_fails(masked) -> None:  # noqa: ANN001
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps: list[float] = []
    with pytest.raises(IdentityError, match="gave up after 3 attempt") as caught:
        obtain_engine_credentials(
            GkeMetadataServer(metadata_host=f"127.0.0.1:{port}"), mask=masked.append, sleep=sleeps.append, timeout=2
        )
    assert sleeps == [1.0, 2.0]
    assert caught.value.status is None
    # Says what it means and what to use instead.
    assert "not a GKE pod with Workload Identity" in str(caught.value)
    assert "WorkloadIdentityFederation" in str(caught.value) and "FakeGoogleTokenServer" in str(caught.value)


# -- the hand-off to the engine ---------------------------------------------------------------------


def test_refreshable_hand_off_points_the_engine_at_the_same_server(monkeypatch) -> None:  # noqa: ANN001
    from airflow_pulumi_decorators.identity import CREDENTIAL_ENV_VARS

    removed = dict.fromkeys(CREDENTIAL_ENV_VARS)
    handoff = GkeMetadataServer(metadata_host="127.0.0.1:9").refreshable_env()
    assert handoff.env == {**removed, "GCE_METADATA_HOST": "127.0.0.1:9"}  # ADC falls through to it
    assert handoff.credential_config is None and handoff.notice is None
    assert GkeMetadataServer().refreshable_env().env == removed  # Google's own server: nothing to say
    monkeypatch.setenv("GCE_METADATA_HOST", "10.0.0.1:80")  # read when the hand-off is made
    assert GkeMetadataServer().refreshable_env().env["GCE_METADATA_HOST"] == "10.0.0.1:80"
    assert GkeMetadataServer().configured_lifetime() is None  # the server decides
    GkeMetadataServer().check_refreshable()


def test_refreshable_impersonation_travels_as_the_provider_variable() -> None:
    from airflow_pulumi_decorators.identity import ServiceAccountImpersonation

    from .conftest import DELEGATE, SA

    source = GkeMetadataServer(metadata_host="127.0.0.1:9")
    handoff = ServiceAccountImpersonation(SA, source=source).refreshable_env()
    assert handoff.env["GOOGLE_IMPERSONATE_SERVICE_ACCOUNT"] == SA
    assert handoff.env["GCE_METADATA_HOST"] == "127.0.0.1:9"
    assert handoff.env["GOOGLE_APPLICATION_CREDENTIALS"] is None
    assert SA in (handoff.notice or "") and source.describe() in (handoff.notice or "")
    with pytest.raises(ConfigurationError, match="GOOGLE_IMPERSONATE_SERVICE_ACCOUNT, which has no delegates"):
        ServiceAccountImpersonation(SA, source=source, delegates=[DELEGATE]).check_refreshable()
