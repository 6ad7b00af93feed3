"""The credential modes and the environment contract every identity hands the engine."""

from __future__ import annotations

import pytest

from airflow_pulumi_decorators.errors import ConfigurationError
from airflow_pulumi_decorators.identity import CREDENTIAL_ENV_VARS, CredentialMode
from airflow_pulumi_decorators.identity.engine_env import (
    CREDENTIAL_MODES,
    OTHER_PROJECT_ENV_VARS,
    EngineEnv,
    cleared_env,
    project_env,
)


def test_modes_accept_the_plain_strings_users_write() -> None:
    assert CredentialMode.parse("token") is CredentialMode.TOKEN
    assert CredentialMode.parse(CredentialMode.REFRESHABLE) is CredentialMode.REFRESHABLE
    assert CredentialMode.TOKEN == "token"  # a str enum: comparisons with the plain strings still hold
    assert CREDENTIAL_MODES == ("token", "refreshable")


@pytest.mark.parametrize("value", ["Token", "forever", None, 1])
def test_an_unknown_mode_names_the_parameter_and_the_choices(value: object) -> None:
    with pytest.raises(ConfigurationError, match=r"credential_mode=.* must be 'token' or 'refreshable'"):
        CredentialMode.parse(value)
    with pytest.raises(ConfigurationError, match=r"^mode="):
        CredentialMode.parse(value, param="mode")


def test_token_hand_off_is_the_token_alone() -> None:
    handoff = EngineEnv.token("ya29.secret-token")
    assert handoff.env == {**dict.fromkeys(CREDENTIAL_ENV_VARS), "GOOGLE_OAUTH_ACCESS_TOKEN": "ya29.secret-token"}
    assert handoff.credential_config is None and handoff.notice is None
    assert "ya29" not in repr(handoff)


def test_cleared_env_keeps_only_what_it_is_told_to() -> None:
    assert cleared_env() == dict.fromkeys(CREDENTIAL_ENV_VARS)
    kept = cleared_env(keep=("GOOGLE_APPLICATION_CREDENTIALS",))
    assert set(kept) == set(CREDENTIAL_ENV_VARS) - {"GOOGLE_APPLICATION_CREDENTIALS"}


def test_project_env_makes_ours_the_only_project() -> None:
    assert project_env(None) == {} and project_env("") == {}
    assert project_env("acme") == {**dict.fromkeys(OTHER_PROJECT_ENV_VARS), "GOOGLE_CLOUD_PROJECT": "acme"}
