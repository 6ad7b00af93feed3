"""Parse-time validation shared by every identity."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from airflow_pulumi_decorators.errors import ConfigurationError
from airflow_pulumi_decorators.identity import (
    ApplicationDefault,
    GkeMetadataServer,
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
