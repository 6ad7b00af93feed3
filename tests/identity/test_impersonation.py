"""ServiceAccountImpersonation: validation, chains, and generateAccessToken against the fake."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from airflow_pulumi_decorators.errors import ConfigurationError, IdentityError
from airflow_pulumi_decorators.identity import (
    GkeMetadataServer,
    ServiceAccountImpersonation,
    WorkloadIdentityFederation,
    obtain_engine_credentials,
)
from airflow_pulumi_decorators.testing.google import FakeGoogleTokenServer

from .conftest import CLOUD, DELEGATE, IAM, SA, no_sleep

SOURCE = GkeMetadataServer()


def test_source_is_required() -> None:
    with pytest.raises(ConfigurationError, match=r"source=\.\.\.\) is required"):
        ServiceAccountImpersonation(SA)
    with pytest.raises(ConfigurationError, match="must be an identity"):
        ServiceAccountImpersonation(SA, source="default")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("lifetime", "seconds"), [(1, 1), (3600, 3600), (timedelta(hours=12), 43200), (7200.0, 7200)]
)
def test_lifetime_in_seconds_or_timedelta(lifetime: object, seconds: int) -> None:
    assert ServiceAccountImpersonation(SA, source=SOURCE, lifetime=lifetime).lifetime == seconds  # type: ignore[arg-type]


@pytest.mark.parametrize("lifetime", [0, 43201, timedelta(hours=13), 1.5, "3600", True])
def test_lifetime_out_of_range_names_the_org_policy(lifetime: object) -> None:
    with pytest.raises(ConfigurationError, match="lifetime"):
        ServiceAccountImpersonation(SA, source=SOURCE, lifetime=lifetime)  # type: ignore[arg-type]


def test_delegates_validated() -> None:
    with pytest.raises(ConfigurationError, match="delegates"):
        ServiceAccountImpersonation(SA, source=SOURCE, delegates=["user@example.com"])
    with pytest.raises(ConfigurationError, match="must not contain the target"):
        ServiceAccountImpersonation(SA, source=SOURCE, delegates=[SA])


@pytest.mark.parametrize(
    "chain", [f"{DELEGATE},{SA}", f" {DELEGATE} , {SA} ", [DELEGATE, SA], (DELEGATE, SA)]
)
def test_from_impersonation_chain_last_is_target(chain: object) -> None:
    identity = ServiceAccountImpersonation.from_impersonation_chain(chain, source=SOURCE)  # type: ignore[arg-type]
    assert identity.target_principal == SA and identity.delegates == (DELEGATE,)


def test_from_impersonation_chain_single_and_empty() -> None:
    assert ServiceAccountImpersonation.from_impersonation_chain(SA, source=SOURCE).delegates == ()
    with pytest.raises(ConfigurationError, match="empty"):
        ServiceAccountImpersonation.from_impersonation_chain([], source=SOURCE)


def test_over_metadata_three_round_trips(fake, masked) -> None:  # noqa: ANN001
    identity = ServiceAccountImpersonation(
        SA, source=GkeMetadataServer(metadata_host=fake.metadata_host), lifetime=900, iam_endpoint=fake.url
    )
    with obtain_engine_credentials(identity, mask=masked.append) as creds:
        assert creds.principal == SA and creds.http_requests == 3
    info, md_token, iam = fake.requests
    assert md_token.query["scopes"] == IAM  # google-auth re-scopes the source for IAM
    assert fake.issued[iam.bearer].endpoint == "metadata"  # the source's token called IAM
    assert iam.path.endswith(f"/serviceAccounts/{SA}:generateAccessToken")
    assert iam.json == {"delegates": None, "scope": [CLOUD], "lifetime": "900s"}
    issued = fake.issued[creds.env["GOOGLE_OAUTH_ACCESS_TOKEN"]]
    assert (issued.principal, issued.endpoint) == (SA, "iam")
    assert abs((creds.expires_at - issued.expires_at).total_seconds()) <= 1  # IAM's expireTime has no fractions


def test_over_federation_with_delegate_chain(subject_file: Path, masked) -> None:  # noqa: ANN001
    with FakeGoogleTokenServer(check_subject_token=True, grants={}) as fake:
        subject_file.write_text(fake.subject_token)
        federation = WorkloadIdentityFederation(fake.external_account_config(subject_token_file=subject_file))
        federated = f"principal://{federation.load_config()['audience'].removeprefix('//')}/subject"
        fake.grants = {DELEGATE: frozenset({federated}), SA: frozenset({DELEGATE})}
        identity = ServiceAccountImpersonation(
            SA, source=federation, delegates=[DELEGATE], lifetime=timedelta(hours=2), iam_endpoint=fake.url
        )
        with obtain_engine_credentials(identity, mask=masked.append) as creds:
            assert creds.principal == SA and creds.http_requests == 2
        sts, iam = fake.requests
        assert sts.form["scope"] == IAM
        assert iam.json == {
            "delegates": [f"projects/-/serviceAccounts/{DELEGATE}"],
            "scope": [CLOUD],
            "lifetime": "7200s",
        }

        # Break the chain: the delegate may no longer mint the target's tokens -> 403, no retry.
        fake.grants = {DELEGATE: frozenset({federated}), SA: frozenset()}
        fake.clear()
        with pytest.raises(IdentityError) as caught:
            obtain_engine_credentials(identity, mask=masked.append, sleep=no_sleep)
        assert caught.value.status == 403
        assert "roles/iam.serviceAccountTokenCreator" in str(caught.value)
        assert [r.endpoint for r in fake.requests] == ["sts", "iam"]


def test_lifetime_over_the_allowed_maximum_fails_at_once(masked) -> None:  # noqa: ANN001
    with FakeGoogleTokenServer(iam_max_lifetime=3600) as fake:  # no org policy
        identity = ServiceAccountImpersonation(
            SA, source=GkeMetadataServer(metadata_host=fake.metadata_host), lifetime=7200, iam_endpoint=fake.url
        )
        with pytest.raises(IdentityError) as caught:
            obtain_engine_credentials(identity, mask=masked.append, sleep=no_sleep)
        assert caught.value.status == 400
        assert "exceeds the maximum" in caught.value.detail
        assert "allowServiceAccountCredentialLifetimeExtension" in str(caught.value)
        assert len(fake.requests_to("iam")) == 1


@pytest.mark.parametrize("entry", [None, "", "  "])
def test_an_empty_delegate_entry_is_named_by_position(entry) -> None:  # noqa: ANN001
    with pytest.raises(ConfigurationError, match=rf"delegates=\.\.\.\) entry 1 is {entry!r}.*Remove the empty entry"):
        ServiceAccountImpersonation(SA, source=SOURCE, delegates=[DELEGATE, entry])


def test_a_bad_delegate_is_named_by_position() -> None:
    with pytest.raises(ConfigurationError, match=r"delegates\[1\]='me@gmail.com'"):
        ServiceAccountImpersonation(SA, source=SOURCE, delegates=[DELEGATE, "me@gmail.com"])


# -- the hand-off to the engine ---------------------------------------------------------------------


def test_configured_lifetime_is_the_lifetime_asked_for() -> None:
    assert ServiceAccountImpersonation(SA, source=SOURCE, lifetime=timedelta(minutes=30)).configured_lifetime() == 1800
    assert ServiceAccountImpersonation(SA, source=SOURCE).configured_lifetime() == 3600


def test_refreshable_hand_off_is_the_sources_with_the_target() -> None:
    handoff = ServiceAccountImpersonation(SA, source=SOURCE).refreshable_env()
    assert handoff.env == {**SOURCE.refreshable_env().env, "GOOGLE_IMPERSONATE_SERVICE_ACCOUNT": SA}


def test_refreshable_refuses_impersonation_of_an_impersonation() -> None:
    inner = ServiceAccountImpersonation(DELEGATE, source=SOURCE)
    outer = ServiceAccountImpersonation(SA, source=inner)
    with pytest.raises(ConfigurationError, match=f"cannot hand impersonation of {SA}.*credential_mode='token'"):
        outer.check_refreshable()
    with pytest.raises(ConfigurationError, match="cannot hand"):
        outer.refreshable_env()
    assert outer.engine_env("token", token="t" * 20).env["GOOGLE_OAUTH_ACCESS_TOKEN"] == "t" * 20  # token mode is fine
