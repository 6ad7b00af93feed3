"""WorkloadIdentityFederation: validation and STS exchanges against the fake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_pulumi_decorators.errors import ConfigurationError, IdentityError
from airflow_pulumi_decorators.identity import WorkloadIdentityFederation, obtain_engine_credentials
from airflow_pulumi_decorators.testing.google import FakeGoogleTokenServer

from .conftest import CLOUD, SA, no_sleep

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"


def _config(fake: FakeGoogleTokenServer, **changes: object) -> dict:
    config = fake.external_account_config(subject_token_url=True)
    config.update(changes)
    return {k: v for k, v in config.items() if v is not None}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"type": "service_account"}, "keyless identities only"),
        ({"audience": None}, "lacks 'audience'"),
        ({"subject_token_type": ""}, "lacks 'subject_token_type'"),
        ({"token_url": None}, "lacks 'token_url'"),
        ({"credential_source": None}, "lacks 'credential_source'"),
        (
            {"credential_source": {"executable": {"command": "/bin/get-token"}}},
            "'executable' credential_source, which is refused",
        ),
        ({"credential_source": {"environment_id": "aws1"}}, "AWS or X.509"),
        ({"credential_source": {"file": "/a", "url": "http://b"}}, "exactly one of 'file' or 'url'"),
        ({"service_account_impersonation_url": "https://x/y"}, "must end in"),
        ({"service_account_impersonation": {"token_lifetime_seconds": 50000}}, "token_lifetime_seconds"),
    ],
)
def test_bad_configs_are_refused_at_parse_time(fake, changes: dict, message: str) -> None:  # noqa: ANN001
    with pytest.raises(ConfigurationError, match=message):
        WorkloadIdentityFederation(_config(fake, **changes))


def test_dict_and_path_together_refused(fake) -> None:  # noqa: ANN001
    with pytest.raises(ConfigurationError, match="not both"):
        WorkloadIdentityFederation(_config(fake), credential_config_file="/etc/wif.json")
    with pytest.raises(ConfigurationError, match="needs credential_config"):
        WorkloadIdentityFederation()


def test_json_string_is_parsed_and_a_plain_string_is_a_path(fake) -> None:  # noqa: ANN001
    assert WorkloadIdentityFederation(json.dumps(_config(fake))).credential_config == _config(fake)
    by_path = WorkloadIdentityFederation("/nonexistent/wif.json")  # fine at parse time...
    assert by_path.credential_config_file == "/nonexistent/wif.json"
    with pytest.raises(ConfigurationError, match="does not exist on this worker"):
        by_path.check_runtime()  # ...refused at task start


def test_caller_dict_is_copied(fake) -> None:  # noqa: ANN001
    config = _config(fake)
    identity = WorkloadIdentityFederation(config)
    config["audience"] = "changed"
    assert identity.load_config()["audience"] != "changed"


def test_file_subject_token_is_re_read_on_every_exchange(fake, subject_file: Path, masked) -> None:  # noqa: ANN001
    fake.check_subject_token = lambda token: token.startswith(fake.subject_token)
    identity = WorkloadIdentityFederation(fake.external_account_config(subject_token_file=subject_file), scopes=[CLOUD])
    obtain_engine_credentials(identity, mask=masked.append).close()
    subject_file.write_text(fake.subject_token + "-rotated")
    with obtain_engine_credentials(identity, mask=masked.append) as creds:
        assert creds.principal.startswith("federated principal of //iam.googleapis.com/")
        assert creds.http_requests == 1
    first, second = fake.requests_to("sts")
    assert first.form["subject_token"] == fake.subject_token
    assert second.form["subject_token"] == fake.subject_token + "-rotated"
    for request in (first, second):
        assert request.form["grant_type"] == GRANT
        assert request.form["audience"] == identity.load_config()["audience"]
        assert request.form["scope"] == CLOUD
        assert request.form["requested_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
        assert request.form["subject_token_type"] == "urn:ietf:params:oauth:token-type:jwt"


def test_url_subject_token_json_format(masked) -> None:  # noqa: ANN001
    with FakeGoogleTokenServer(subject_token_format="json", check_subject_token=True) as fake:
        identity = WorkloadIdentityFederation(fake.external_account_config(subject_token_url=True))
        assert identity.secret_urls() == {fake.subject_token_url}
        with obtain_engine_credentials(identity, mask=masked.append) as creds:
            assert creds.http_requests == 2
        subject, sts = fake.requests
        assert subject.endpoint == "subject_token" and "metadata-flavor" in subject.header_names
        assert sts.form["subject_token"] == fake.subject_token
        assert fake.subject_token in masked  # the subject token is masked too


def test_config_file_path_read_at_task_start(fake, subject_file: Path, tmp_path: Path, masked) -> None:  # noqa: ANN001
    path = tmp_path / "wif.json"
    identity = WorkloadIdentityFederation(credential_config_file=path)
    with pytest.raises(ConfigurationError, match="credential_config_file"):
        obtain_engine_credentials(identity, mask=masked.append)
    assert fake.requests == []
    path.write_text(json.dumps(fake.external_account_config(subject_token_file=subject_file, impersonate=SA)))
    with obtain_engine_credentials(identity, mask=masked.append) as creds:
        assert creds.principal == SA  # from the configuration's service_account_impersonation_url
    assert [r.endpoint for r in fake.requests] == ["sts", "iam"]


def test_wrong_audience_fails_at_once(subject_file: Path, masked) -> None:  # noqa: ANN001
    pool = "//iam.googleapis.com/projects/{}/locations/global/workloadIdentityPools/pool/providers/provider"
    with FakeGoogleTokenServer(expected_audience=pool.format(1)) as fake:
        config = fake.external_account_config(subject_token_file=subject_file, audience=pool.format(2))
        with pytest.raises(IdentityError) as caught:
            obtain_engine_credentials(WorkloadIdentityFederation(config), mask=masked.append, sleep=no_sleep)
        assert caught.value.status == 400 and caught.value.endpoint == fake.token_url
        assert "invalid_target" in str(caught.value)
        assert len(fake.requests) == 1


def test_missing_subject_token_file_fails_at_once_without_http(fake, tmp_path: Path, masked) -> None:  # noqa: ANN001
    config = fake.external_account_config(subject_token_file=tmp_path / "absent")
    with pytest.raises(ConfigurationError) as caught:
        obtain_engine_credentials(WorkloadIdentityFederation(config), mask=masked.append, sleep=no_sleep)
    message = str(caught.value)
    # Which file, which parameter, and how to provide it.
    assert repr(str(tmp_path / "absent")) in message and "credential_source.file" in message
    assert "projected service-account token" in message
    assert fake.requests == []


@pytest.mark.parametrize(
    "audience",
    [
        "//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/pool/providers/oidc",
        "//iam.googleapis.com/locations/global/workforcePools/staff/providers/okta",
    ],
)
def test_pool_provider_audiences_pass(fake, subject_file: Path, audience: str) -> None:  # noqa: ANN001
    config = fake.external_account_config(subject_token_file=subject_file, audience=audience)
    assert WorkloadIdentityFederation(config).credential_config["audience"] == audience


@pytest.mark.parametrize(
    "audience",
    [
        "//iam.googleapis.com/projects/acme-prod/locations/global/workloadIdentityPools/pool/providers/oidc",
        "https://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/oidc",
        "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool",
        "sts.googleapis.com",
    ],
)
def test_other_audiences_are_refused_at_parse_time(fake, subject_file: Path, audience: str) -> None:  # noqa: ANN001
    config = fake.external_account_config(subject_token_file=subject_file, audience=audience)
    with pytest.raises(ConfigurationError, match="not a pool provider.*PROJECT_NUMBER"):
        WorkloadIdentityFederation(config)


def test_malformed_json_is_located(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"credential_config=\.\.\.\) is not valid JSON: .* line 3 column 1"):
        WorkloadIdentityFederation('{"type": "external_account",\n "audience": "x",\n}')
    path = tmp_path / "wif.json"
    path.write_text('{"type": "external_account"\n "audience": "x"}')
    with pytest.raises(ConfigurationError, match=r"credential_config_file=.* is not valid JSON: .* line 2 column 2"):
        WorkloadIdentityFederation(credential_config_file=path).load_config()


# -- the hand-off to the engine ---------------------------------------------------------------------


def test_refreshable_hand_off_is_the_configuration_itself(fake) -> None:  # noqa: ANN001
    from airflow_pulumi_decorators.identity import CREDENTIAL_ENV_VARS

    identity = WorkloadIdentityFederation(_config(fake))
    identity.check_refreshable()
    handoff = identity.refreshable_env()
    assert handoff.credential_config == identity.load_config()
    assert handoff.credential_config is not identity.credential_config  # a copy: the identity stays as it was
    # Every inherited variable removed; the orchestration names the written file.
    assert handoff.env == dict.fromkeys(CREDENTIAL_ENV_VARS) and handoff.notice is None


def test_refreshable_impersonation_is_written_into_the_configuration(fake) -> None:  # noqa: ANN001
    from airflow_pulumi_decorators.identity import ServiceAccountImpersonation

    source = WorkloadIdentityFederation(_config(fake))
    impersonation = ServiceAccountImpersonation(SA, source=source, lifetime=7200, iam_endpoint=fake.url)
    config = dict(impersonation.refreshable_env().credential_config or {})
    assert config["service_account_impersonation_url"] == fake.impersonation_url(SA)
    assert config["service_account_impersonation"] == {"token_lifetime_seconds": 7200}
    assert "service_account_impersonation_url" not in source.load_config()


def test_refreshable_refusals_name_the_fix(fake, tmp_path) -> None:  # noqa: ANN001
    from airflow_pulumi_decorators.identity import ServiceAccountImpersonation

    from .conftest import DELEGATE

    plain = WorkloadIdentityFederation(_config(fake))
    with pytest.raises(ConfigurationError, match="roles/iam.serviceAccountTokenCreator on " + SA):
        ServiceAccountImpersonation(SA, source=plain, delegates=[DELEGATE]).check_refreshable()
    impersonating = WorkloadIdentityFederation(fake.external_account_config(subject_token_url=True, impersonate=SA))
    with pytest.raises(ConfigurationError, match="already impersonates"):
        ServiceAccountImpersonation(SA, source=impersonating).check_refreshable(read_files=False)
    on_file = WorkloadIdentityFederation(credential_config_file=str(tmp_path / "absent.json"))
    ServiceAccountImpersonation(SA, source=on_file).check_refreshable(read_files=False)  # only the worker has it
    with pytest.raises(ConfigurationError, match="does not exist on this worker"):
        ServiceAccountImpersonation(SA, source=on_file).check_refreshable()


def test_configured_lifetime_is_known_only_when_the_dag_holds_an_impersonating_configuration(fake, tmp_path) -> None:  # noqa: ANN001
    with_lifetime = fake.external_account_config(subject_token_url=True, impersonate=SA, lifetime=7200)
    assert WorkloadIdentityFederation(with_lifetime).configured_lifetime() == 7200
    without = fake.external_account_config(subject_token_url=True, impersonate=SA)
    without.pop("service_account_impersonation", None)
    assert WorkloadIdentityFederation(without).configured_lifetime() == 3600  # Google's default
    assert WorkloadIdentityFederation(_config(fake)).configured_lifetime() is None  # STS decides
    assert WorkloadIdentityFederation(credential_config_file=str(tmp_path / "x.json")).configured_lifetime() is None
