"""Parse-time validation shared by every identity."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from airflow_pulumi_decorators.errors import ConfigurationError
from airflow_pulumi_decorators.identity import (
    ApplicationDefault,
    GkeMetadataServer,
    Identity,
    ServiceAccountImpersonation,
    WorkloadIdentityFederation,
)
from airflow_pulumi_decorators.identity.base import check_service_account_email, normalize_scopes

from .conftest import CLOUD, IAM, SA


def test_scopes_accept_comma_or_space_separated_strings_and_deduplicate() -> None:
    assert normalize_scopes(f"{CLOUD}, {IAM} {CLOUD}", owner="X") == (CLOUD, IAM)
    assert normalize_scopes([CLOUD], owner="X") == (CLOUD,)


@pytest.mark.parametrize("value", ["", [], ["cloud-platform"], 42, [None]])
def test_bad_scopes_name_the_parameter(value: object) -> None:
    with pytest.raises(ConfigurationError, match=r"X\(scopes=\.\.\.\)"):
        normalize_scopes(value, owner="X")


@pytest.mark.parametrize(
    "email",
    [SA, "123456789-compute@developer.gserviceaccount.com", "my-app@appspot.gserviceaccount.com"],
)
def test_service_account_emails_accepted(email: str) -> None:
    assert check_service_account_email(email, owner="X", param="target_principal") == email


@pytest.mark.parametrize("email", ["", "someone@example.com", "deployer", "a@b@c.iam.gserviceaccount.com", None])
def test_non_service_account_emails_refused(email: object) -> None:
    with pytest.raises(ConfigurationError, match="target_principal"):
        check_service_account_email(email, owner="X", param="target_principal")


def test_identities_are_frozen_hashable_and_deep_copyable(fake) -> None:  # noqa: ANN001
    wif = WorkloadIdentityFederation(fake.external_account_config(subject_token_url=True))
    identities = [
        GkeMetadataServer(),
        ApplicationDefault(),
        wif,
        ServiceAccountImpersonation(SA, source=wif),
    ]
    for identity in identities:
        with pytest.raises(dataclasses.FrozenInstanceError):
            identity.scopes = ()  # type: ignore[misc]
        assert copy.deepcopy(identity) == identity  # Airflow deep-copies operators
        hash(identity)
        assert "token" not in identity.describe().lower() or "subject token" in identity.describe()


def test_str_is_describe() -> None:
    assert str(GkeMetadataServer()) == GkeMetadataServer().describe()


# -- the hand-off contract every identity inherits --------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Custom(Identity):
    def describe(self) -> str:
        return "a custom source"

    def google_credentials(self):  # noqa: ANN201
        raise AssertionError("not called")

    def principal(self, credentials) -> str:  # noqa: ANN001
        return "someone"


def test_token_mode_is_the_same_for_every_source_and_refreshable_is_opt_in() -> None:
    from airflow_pulumi_decorators.identity import CREDENTIAL_ENV_VARS, CredentialMode

    custom = _Custom()
    handoff = custom.engine_env(CredentialMode.TOKEN, token="ya29.token-value")
    assert handoff.env == {**dict.fromkeys(CREDENTIAL_ENV_VARS), "GOOGLE_OAUTH_ACCESS_TOKEN": "ya29.token-value"}
    with pytest.raises(ConfigurationError, match="does not support _Custom; use credential_mode='token'"):
        custom.check_refreshable()
    with pytest.raises(ConfigurationError, match="does not support _Custom"):
        custom.engine_env(CredentialMode.REFRESHABLE, token="ya29.token-value")
    with pytest.raises(ConfigurationError, match=f"cannot hand impersonation of {SA}"):
        ServiceAccountImpersonation(SA, source=custom).check_refreshable(read_files=False)
    assert custom.configured_lifetime() is None and custom.resolve_with_project() == (custom, None)


def test_from_connection_builds_the_registered_lazy_identity_without_importing_it() -> None:
    from airflow_pulumi_decorators.identity import FromConnection

    assert Identity._connection_identity is FromConnection
    assert GkeMetadataServer.from_connection("gcp") == FromConnection("gcp", kind="GkeMetadataServer")
    with pytest.raises(ConfigurationError, match=r"_Custom.from_connection\(\) is not supported"):
        _Custom.from_connection("gcp")
