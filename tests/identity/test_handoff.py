"""obtain_engine_credentials: env per source x mode, temp files, faults, retries, secret hygiene."""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from airflow_pulumi_decorators.errors import ConfigurationError, CredentialLifetimeError, IdentityError
from airflow_pulumi_decorators.identity import (
    CREDENTIAL_ENV_VARS,
    CredentialMode,
    GkeMetadataServer,
    ServiceAccountImpersonation,
    WorkloadIdentityFederation,
    obtain_engine_credentials,
)
from airflow_pulumi_decorators.testing.google import (
    FakeGoogleTokenServer,
    drop_connection,
    hang,
    short_lifetime,
    slow,
    status,
)

from .conftest import DELEGATE, SA, no_sleep

REMOVED = dict.fromkeys(CREDENTIAL_ENV_VARS)
OTHER_PROJECTS = {"GOOGLE_PROJECT": None, "GCLOUD_PROJECT": None, "CLOUDSDK_CORE_PROJECT": None}


@pytest.fixture
def metadata(fake: FakeGoogleTokenServer) -> GkeMetadataServer:
    return GkeMetadataServer(metadata_host=fake.metadata_host)


@pytest.fixture
def federation(fake: FakeGoogleTokenServer, subject_file: Path) -> WorkloadIdentityFederation:
    return WorkloadIdentityFederation(fake.external_account_config(subject_token_file=subject_file))


def _impersonate(fake: FakeGoogleTokenServer, source, **kw) -> ServiceAccountImpersonation:  # noqa: ANN001
    return ServiceAccountImpersonation(SA, source=source, iam_endpoint=fake.url, **kw)


# -- token mode ------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["metadata", "federation", "impersonation"])
def test_token_mode_env_is_exact(fake, metadata, federation, masked, source: str) -> None:  # noqa: ANN001
    identity = {"metadata": metadata, "federation": federation, "impersonation": _impersonate(fake, metadata)}[source]
    with obtain_engine_credentials(identity, project="acme-prod", mask=masked.append) as creds:
        token = creds.env["GOOGLE_OAUTH_ACCESS_TOKEN"]
        assert creds.env == {
            **REMOVED,
            **OTHER_PROJECTS,
            "GOOGLE_OAUTH_ACCESS_TOKEN": token,
            "GOOGLE_CLOUD_PROJECT": "acme-prod",
        }
        assert token in fake.issued_tokens()
        assert creds.mode is CredentialMode.TOKEN and creds.expires_at is not None
        assert token in masked  # handed to the masker
        assert token not in repr(creds)
    with obtain_engine_credentials(identity, mask=masked.append) as creds:  # no project: none set or removed
        assert set(creds.env) == set(REMOVED)


def test_apply_to_sets_and_removes(fake, metadata, masked) -> None:  # noqa: ANN001
    inherited = {"PATH": "/bin", "GOOGLE_CREDENTIALS": "{...}", "GOOGLE_PROJECT": "other"}
    with obtain_engine_credentials(metadata, project="p", mask=masked.append) as creds:
        merged = creds.apply_to(inherited)
    assert merged["PATH"] == "/bin" and merged["GOOGLE_CLOUD_PROJECT"] == "p"
    assert "GOOGLE_CREDENTIALS" not in merged and "GOOGLE_PROJECT" not in merged


def test_budget_check(fake, metadata, masked) -> None:  # noqa: ANN001
    fake.inject("metadata_token", short_lifetime(600))
    with pytest.raises(CredentialLifetimeError) as caught:
        obtain_engine_credentials(metadata, budget=timedelta(minutes=30), mask=masked.append)
    message = str(caught.value)
    assert "lifetime=" in message and "43200" in message and "refreshable" in message
    assert caught.value.identity == metadata.describe()
    for token in fake.issued_tokens():
        assert token not in message
    # An hour-long token covers a 50-minute budget plus the 5-minute margin.
    obtain_engine_credentials(metadata, budget=timedelta(minutes=50), mask=masked.append).close()
    # Refreshable mode does not check: the engine refreshes.
    fake.inject("metadata_token", short_lifetime(60))
    obtain_engine_credentials(metadata, budget=timedelta(hours=5), mode="refreshable", mask=masked.append).close()


def test_impersonation_lifetime_is_what_the_budget_sees(fake, metadata, masked) -> None:  # noqa: ANN001
    identity = _impersonate(fake, metadata, lifetime=timedelta(hours=6))
    with obtain_engine_credentials(identity, budget=timedelta(hours=5), mask=masked.append) as creds:
        assert fake.requests_to("iam")[0].json["lifetime"] == "21600s"
        assert creds.expires_at is not None


# -- refreshable mode ------------------------------------------------------------------------------


def _assert_private_file(path: str) -> None:
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700


def test_refreshable_federation_writes_private_config_without_token(fake, federation, tmp_path, masked) -> None:  # noqa: ANN001
    root = tmp_path / "creds"
    with obtain_engine_credentials(
        federation, project="p", mode="refreshable", temp_root=root, mask=masked.append
    ) as creds:
        path = creds.credentials_file
        assert path and Path(path).parent.parent == root
        assert creds.env == {
            **REMOVED,
            **OTHER_PROJECTS,
            "GOOGLE_APPLICATION_CREDENTIALS": path,
            "GOOGLE_CLOUD_PROJECT": "p",
        }
        _assert_private_file(path)
        text = Path(path).read_text()
        assert json.loads(text) == federation.load_config()
        for secret in [*fake.issued_tokens(), fake.subject_token]:
            assert secret not in text and secret not in json.dumps(creds.env)
        assert creds.expires_at is None
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))
    creds.close()  # idempotent


def test_refreshable_file_removed_after_exception_in_with(fake, federation, masked) -> None:  # noqa: ANN001
    with pytest.raises(RuntimeError):
        with obtain_engine_credentials(federation, mode="refreshable", mask=masked.append) as creds:
            path = creds.credentials_file
            raise RuntimeError("pulumi up failed")
    assert path and not os.path.exists(os.path.dirname(path))


def test_close_from_another_thread(fake, federation, masked) -> None:  # noqa: ANN001
    creds = obtain_engine_credentials(federation, mode="refreshable", mask=masked.append)
    threads = [threading.Thread(target=creds.close) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert creds.closed and not os.path.exists(str(creds.credentials_file))


def test_refreshable_impersonation_over_federation(fake, federation, masked) -> None:  # noqa: ANN001
    identity = _impersonate(fake, federation, lifetime=7200)
    with obtain_engine_credentials(identity, mode="refreshable", mask=masked.append) as creds:
        config = json.loads(Path(str(creds.credentials_file)).read_text())
        assert config["service_account_impersonation_url"] == fake.impersonation_url(SA)
        assert config["service_account_impersonation"] == {"token_lifetime_seconds": 7200}
        assert creds.principal == SA
    assert [r.endpoint for r in fake.requests] == ["sts", "iam"]  # probed once up front


def test_refreshable_metadata_passes_only_the_project(fake, metadata, masked) -> None:  # noqa: ANN001
    with obtain_engine_credentials(metadata, project="p", mode="refreshable", mask=masked.append) as creds:
        assert creds.env == {
            **REMOVED, **OTHER_PROJECTS, "GOOGLE_CLOUD_PROJECT": "p", "GCE_METADATA_HOST": fake.metadata_host,
        }
        assert creds.credentials_file is None


def test_refreshable_impersonation_over_metadata_uses_the_provider_variable(fake, metadata, masked, caplog) -> None:  # noqa: ANN001
    with caplog.at_level(logging.WARNING):
        with obtain_engine_credentials(_impersonate(fake, metadata), mode="refreshable", mask=masked.append) as creds:
            assert creds.env["GOOGLE_IMPERSONATE_SERVICE_ACCOUNT"] == SA
            assert creds.env["GOOGLE_OAUTH_ACCESS_TOKEN"] is None
    assert "gs:// state backend" in caplog.text


@pytest.mark.parametrize("source", ["metadata", "federation"])
def test_refreshable_refuses_delegates_before_any_request(fake, metadata, federation, masked, source: str) -> None:  # noqa: ANN001
    identity = _impersonate(fake, {"metadata": metadata, "federation": federation}[source], delegates=[DELEGATE])
    with pytest.raises(ConfigurationError, match="delegates"):
        obtain_engine_credentials(identity, mode="refreshable", mask=masked.append)
    assert fake.requests == []


def test_bad_arguments() -> None:
    with pytest.raises(ConfigurationError, match="mode="):
        obtain_engine_credentials(GkeMetadataServer(), mode="forever")
    with pytest.raises(ConfigurationError, match="retries="):
        obtain_engine_credentials(GkeMetadataServer(), retries=0)


# -- faults and retries ----------------------------------------------------------------------------


def test_invalid_grant_fails_at_once_without_retry(fake, federation, masked) -> None:  # noqa: ANN001
    fake.inject("sts", status(400, error="invalid_grant", description="The audience in ID Token does not match."))
    sleeps: list[float] = []
    with pytest.raises(IdentityError) as caught:
        obtain_engine_credentials(federation, mask=masked.append, sleep=sleeps.append)
    err = caught.value
    assert (err.status, err.endpoint, err.identity) == (400, fake.token_url, federation.describe())
    assert err.detail == "invalid_grant: The audience in ID Token does not match."
    assert sleeps == [] and len(fake.requests) == 1
    assert err.__cause__ is None and err.__context__ is None  # no google-auth exception text chained


@pytest.mark.parametrize("endpoint", ["sts", "iam"])
def test_503_twice_then_success(fake, federation, masked, endpoint: str) -> None:  # noqa: ANN001
    fake.inject(endpoint, status(503), status(503))
    sleeps: list[float] = []
    with obtain_engine_credentials(_impersonate(fake, federation), mask=masked.append, sleep=sleeps.append) as creds:
        assert creds.attempts == 3
    assert len(fake.requests_to(endpoint)) == 3
    assert sleeps == [1.0, 2.0]


def test_429_and_dropped_connection_are_retried(fake, metadata, masked) -> None:  # noqa: ANN001
    fake.inject("metadata_token", status(429), drop_connection())
    with obtain_engine_credentials(metadata, mask=masked.append, sleep=no_sleep) as creds:
        assert creds.attempts == 3 and creds.http_requests == 6


def test_persistent_503_gives_up_after_bounded_attempts(fake, federation, masked) -> None:  # noqa: ANN001
    fake.inject("sts", *[status(503)] * 5)
    with pytest.raises(IdentityError, match="gave up after 2 attempt") as caught:
        obtain_engine_credentials(federation, mask=masked.append, sleep=no_sleep, retries=2)
    assert caught.value.status == 503 and len(fake.requests) == 2


def test_hang_times_out_within_bounded_time(fake, federation, masked) -> None:  # noqa: ANN001
    fake.inject("sts", hang(), hang(), hang())
    started = time.monotonic()
    with pytest.raises(IdentityError, match="0.3s timeout") as caught:
        obtain_engine_credentials(federation, mask=masked.append, sleep=no_sleep, timeout=0.3)
    assert time.monotonic() - started < 5
    assert caught.value.status is None and caught.value.endpoint == fake.token_url
    assert len(fake.requests) == 3


def test_slow_but_within_timeout_succeeds(fake, federation, masked) -> None:  # noqa: ANN001
    fake.inject("sts", slow(0.2))
    with obtain_engine_credentials(federation, mask=masked.append, timeout=5) as creds:
        assert creds.attempts == 1


# -- secret hygiene --------------------------------------------------------------------------------


def test_no_token_in_any_log_record_even_with_google_debug_logging(fake, federation, masked) -> None:  # noqa: ANN001
    records: list[logging.LogRecord] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    root, google = logging.getLogger(), logging.getLogger("google")
    handler = Capture(level=logging.DEBUG)
    saved = (root.level, google.level, google.propagate)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    google.setLevel(logging.DEBUG)  # a user turning google-auth's request logging on
    google.propagate = True
    try:
        identity = _impersonate(fake, federation)
        fake.inject("iam", status(503))
        creds = obtain_engine_credentials(identity, mask=masked.append, sleep=no_sleep)
        fake.inject("sts", status(400, error="invalid_grant", description=f"rejected {fake.subject_token}"))
        with pytest.raises(IdentityError) as caught:
            obtain_engine_credentials(identity, mask=masked.append)
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        google.setLevel(saved[1])
        google.propagate = saved[2]
    assert records, "expected some records (our own INFO/WARNING lines)"
    text = "\n".join(f"{r.name} {r.getMessage()} {r.__dict__}" for r in records)
    secrets = [*fake.issued_tokens(), fake.subject_token]
    for secret in secrets:
        assert secret not in text
        assert secret not in str(caught.value) and secret not in repr(caught.value.__dict__)
    assert "[REDACTED]" in str(caught.value)
    assert logging.getLogger("google.auth").level == logging.NOTSET  # levels restored
    assert creds.env["GOOGLE_OAUTH_ACCESS_TOKEN"] in masked


def test_bearer_echoed_in_iam_error_is_scrubbed(fake, metadata, masked) -> None:  # noqa: ANN001
    # The fake cannot know the bearer in advance; make IAM reject and echo a token-shaped string.
    fake.inject("iam", status(403, description="denied for Bearer ya29.a0AfH6SMBsecretsecret"))
    with pytest.raises(IdentityError) as caught:
        obtain_engine_credentials(_impersonate(fake, metadata), mask=masked.append)
    assert "ya29.a0AfH6SMBsecretsecret" not in str(caught.value)
    assert caught.value.status == 403


def test_masker_failure_does_not_break_acquisition(fake, metadata) -> None:  # noqa: ANN001
    def broken(_: str) -> None:
        raise RuntimeError("masker down")

    obtain_engine_credentials(metadata, mask=broken).close()


def test_default_mask_outside_airflow_is_silent(fake, metadata) -> None:  # noqa: ANN001
    obtain_engine_credentials(metadata).close()


# -- what is known before the task runs ----------------------------------------------------------------------


def test_lifetime_check_at_parse_time_uses_the_same_margin_as_at_task_start(fake, metadata, masked) -> None:  # noqa: ANN001
    from airflow_pulumi_decorators.identity import LIFETIME_MARGIN
    from airflow_pulumi_decorators.identity.handoff import check_lifetime_covers

    identity = _impersonate(fake, metadata, lifetime=3600)
    just_enough = timedelta(seconds=3600) - LIFETIME_MARGIN
    check_lifetime_covers(identity, just_enough)
    with pytest.raises(CredentialLifetimeError, match="lifetime=3601"):
        check_lifetime_covers(identity, just_enough + timedelta(seconds=1), task_id="t")
    # ... and at task start the same budget passes too: the rules agree.
    with obtain_engine_credentials(identity, budget=just_enough - timedelta(seconds=5), mask=masked.append):
        pass


def test_refreshable_check_can_skip_files_only_the_worker_has(tmp_path) -> None:  # noqa: ANN001
    from airflow_pulumi_decorators.identity.handoff import check_refreshable

    on_file = ServiceAccountImpersonation(
        SA, source=WorkloadIdentityFederation(credential_config_file=str(tmp_path / "absent.json")))
    check_refreshable(on_file, read_files=False)
    with pytest.raises(ConfigurationError, match="does not exist on this worker"):
        check_refreshable(on_file)


def test_refreshable_check_refuses_what_is_not_an_identity() -> None:
    from airflow_pulumi_decorators.identity.handoff import check_refreshable

    class Lookalike:
        def describe(self) -> str:
            return "not an identity"

    with pytest.raises(ConfigurationError, match="does not support Lookalike"):
        check_refreshable(Lookalike())  # type: ignore[arg-type]


def test_token_mode_hands_over_what_the_identity_says_plus_the_project(fake, metadata, masked, monkeypatch) -> None:  # noqa: ANN001
    # The orchestration adds only the project to the identity's own hand-off.
    from airflow_pulumi_decorators.identity.engine_env import EngineEnv

    seen: list[tuple] = []

    def engine_env(self, mode, *, token):  # noqa: ANN001, ANN202
        seen.append((mode, token))
        return EngineEnv({"GOOGLE_OAUTH_ACCESS_TOKEN": token, "EXTRA": "1"})

    monkeypatch.setattr(GkeMetadataServer, "engine_env", engine_env)
    with obtain_engine_credentials(metadata, project="p", mask=masked.append) as creds:
        token = creds.env["GOOGLE_OAUTH_ACCESS_TOKEN"]
        assert creds.env == {
            **OTHER_PROJECTS,
            "GOOGLE_OAUTH_ACCESS_TOKEN": token,
            "EXTRA": "1",
            "GOOGLE_CLOUD_PROJECT": "p",
        }
    assert seen == [(CredentialMode.TOKEN, token)]


def test_a_hand_off_notice_is_logged_as_a_warning(fake, metadata, masked, monkeypatch, caplog) -> None:  # noqa: ANN001
    from airflow_pulumi_decorators.identity.engine_env import EngineEnv, cleared_env

    monkeypatch.setattr(
        GkeMetadataServer, "refreshable_env", lambda self, **_: EngineEnv(cleared_env(), notice="mind the gap")
    )
    with caplog.at_level(logging.WARNING, logger="airflow_pulumi_decorators.identity.handoff"):
        obtain_engine_credentials(metadata, mode="refreshable", mask=masked.append).close()
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == ["mind the gap"]
