"""Identities end to end: real DAG runs (``dag.test()``) on the in-process stand-in engine, with the real
google-auth talking to :class:`FakeGoogleTokenServer` on 127.0.0.1.

For every credential source and mode we check, through a DAG run:

* the HTTP requests the fake saw (audience, scopes, delegates, lifetime, subject token, bearer chain);
* the engine's environment for ``pulumi up``: by name from the stand-in journal (added / removed
  against the worker's ``os.environ``), and by value from ``RecordingEngine`` below (credential values
  only as SHA-256, never in clear), including the refreshable credential file while it exists;
* the principal in the task log and in the update message of the stack history;
* a leak search for every issued access token and the subject token in the task log, XComs, rendered
  fields, everything under the state backend (state, history, journal, workspace config), the private
  temp dir, the recording and the Airflow home (metadata DB);
* that the refreshable credential file is gone after the task, on success and on failure;
* faults (STS 400, 503 then success, a lifetime shorter than the task's budget) as task failures.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_pulumi_decorators.identity import CREDENTIAL_ENV_VARS
from airflow_pulumi_decorators.testing.google import FakeGoogleTokenServer, short_lifetime, status
from airflow_pulumi_decorators.testing.standin import read_journal
from tests.dagrun import all_text_under

pytestmark = pytest.mark.integration

SA = "deployer@acme-prod.iam.gserviceaccount.com"
DELEGATE = "broker@acme-shared.iam.gserviceaccount.com"
NODE_SA = "gke-node@acme-infra.iam.gserviceaccount.com"
AUDIENCE = "//iam.googleapis.com/projects/987654321/locations/global/workloadIdentityPools/airflow/providers/k8s"
FED_PRINCIPAL = f"principal://{AUDIENCE.removeprefix('//')}/subject"
CLOUD = "https://www.googleapis.com/auth/cloud-platform"
IAM = "https://www.googleapis.com/auth/iam"
PROJECT = "acme-dev"

#: Inherited credential variables planted in the worker's environment; none may reach the engine.
PLANTED = {
    "GOOGLE_APPLICATION_CREDENTIALS": "/keys/planted.json",
    "GOOGLE_CREDENTIALS": '{"type": "service_account", "private_key_id": "planted"}',
    "GOOGLE_IMPERSONATE_SERVICE_ACCOUNT": "planted@evil-project.iam.gserviceaccount.com",
    "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE": "/keys/planted-token",
    "GOOGLE_PROJECT": "planted-project",
    "CLOUDSDK_CORE_PROJECT": "planted-project",
}
PLANTED_STALE_TOKEN = "planted-stale-access-token-0b7c"  # planted in refreshable-mode tests only
#: The variables an identity is about (others, e.g. PULUMI_* and AIRFLOW_CTX_*, belong to the engine
#: settings and the task runtime); the engine's environment is compared with the worker's on these.
GOOGLE_PREFIXES = ("GOOGLE_", "GCE_", "CLOUDSDK_", "GCLOUD_")


# -- the DAG file (dags/identity_stack.py) and its parameters ------------------------------------------


def metadata(fake: FakeGoogleTokenServer) -> dict[str, Any]:
    """``GkeMetadataServer(metadata_host=<the fake's>)``."""
    return {"kind": "metadata", "metadata_host": fake.metadata_host}


def federation(config: dict[str, Any]) -> dict[str, Any]:
    """``WorkloadIdentityFederation(config)``."""
    return {"kind": "federation", "config": config}


def impersonation(source: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """``ServiceAccountImpersonation(SA, source=..., **kwargs)`` (``lifetime`` in seconds, or
    ``datetime.timedelta`` keywords)."""
    return {"kind": "impersonation", "target": SA, "source": source, **kwargs}


def dag_params(
    identity: dict[str, Any],
    record: Path,
    *,
    mode: str = "token",
    config: dict[str, Any] | None = None,
    timeout: dict[str, int] | None = None,
    body: str = "ok",
) -> dict[str, Any]:
    """The parameters of ``dags/identity_stack.py`` (``timeout``: ``datetime.timedelta`` keywords)."""
    return {
        "identity": identity,
        "record": str(record),
        "mode": mode,
        "config": {"gcp:project": PROJECT} if config is None else config,
        "execution_timeout": timeout,
        "body": body,
    }


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def google_env_hygiene(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real Google settings, no proxies; plant inherited credential variables the engine must not get."""
    for name in (
        *CREDENTIAL_ENV_VARS,
        "GCE_METADATA_HOST",
        "GCE_METADATA_ROOT",
        "GCE_METADATA_IP",
        "GOOGLE_CLOUD_PROJECT",
        "GCLOUD_PROJECT",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in PLANTED.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temp dir for this test (credential file dir, engine work dir), to check nothing is left."""
    path = tmp_path / "tmp"
    path.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    return path


@pytest.fixture
def subject_token() -> str:
    return "oidc-subject-" + secrets.token_urlsafe(24)


@pytest.fixture
def fake(subject_token: str):
    grants = {DELEGATE: {NODE_SA, FED_PRINCIPAL}, SA: {DELEGATE, FED_PRINCIPAL}}
    with FakeGoogleTokenServer(
        expected_audience=AUDIENCE,
        subject_token=subject_token,
        check_subject_token=True,
        metadata_email=NODE_SA,
        project_id="acme-infra",
        grants=grants,
    ) as server:
        yield server


@pytest.fixture
def subject_file(tmp_path: Path, subject_token: str) -> Path:
    path = tmp_path / "oidc-token"
    path.write_text(subject_token)
    return path


@pytest.fixture
def record(tmp_path: Path) -> Path:
    return tmp_path / "engine-up.json"


@dataclass
class Run:
    """A DAG run plus what the engine was given."""

    result: Any
    before: set[str]
    record_path: Path
    private_tmp: Path
    airflow_home: Path
    masked: list[str]

    @property
    def output(self) -> str:
        return self.result.output

    @property
    def journal(self) -> list[dict]:
        return read_journal(str(self.result.backend / ".pulumi" / "standin-journal.jsonl"))

    @property
    def up(self) -> dict:
        ups = [rec for rec in self.journal if "up" in rec["argv"]]
        assert len(ups) == 1, [rec["argv"] for rec in self.journal]
        return ups[0]

    def env_delta(self) -> tuple[set[str], set[str]]:
        """Google-related names only: (the engine got but the worker has not, the worker has but the engine
        did not get), from the stand-in journal of ``pulumi up``."""
        names = {n for n in self.up["env_names"] if n.startswith(GOOGLE_PREFIXES)}
        before = {n for n in self.before if n.startswith(GOOGLE_PREFIXES)}
        return names - before, before - names

    @property
    def engine(self) -> dict:
        return json.loads(self.record_path.read_text())

    def history(self) -> str:
        return all_text_under(self.result.backend / ".pulumi" / "history")

    def assert_no_leak(self, *values: str) -> None:
        """None of *values* anywhere a run leaves text; each was handed to ``mask_secret`` when seen.

        ``dag.test()`` prints task logs unmasked, so this proves the values were never logged at all.
        """
        assert values and all(len(v) > 16 for v in values), values
        assert set(values) <= {m for m in self.masked if isinstance(m, str)}, "not handed to mask_secret"
        places = {
            "task log": self.result.output,
            "xcom": json.dumps(self.result.xcoms, default=str),
            "rendered fields": json.dumps(self.result.rendered, default=str),
            "backend (state, history, journal, workspace config)": all_text_under(self.result.backend),
            "temp dir": all_text_under(self.private_tmp),
            "engine recording": self.record_path.read_text() if self.record_path.exists() else "",
            "airflow home (metadata DB)": all_text_under(self.airflow_home),
        }
        leaks = [(where, value[:12] + "...") for value in values for where, text in places.items() if value in text]
        assert not leaks, leaks

    def assert_temp_clean(self) -> None:
        left = sorted(p.name for p in self.private_tmp.iterdir() if p.name.startswith("airflow-pulumi"))
        assert not left, left


@pytest.fixture
def masked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every value handed to Airflow's ``mask_secret`` (which the operator's ``_mask`` calls)."""
    import airflow.sdk.log

    seen: list[str] = []
    real = airflow.sdk.log.mask_secret

    def recording(secret: Any, name: str | None = None) -> None:
        seen.append(secret)
        real(secret, name)

    monkeypatch.setattr(airflow.sdk.log, "mask_secret", recording)
    return seen


@pytest.fixture
def run_identity_dag(run_dag_file, private_tmp: Path, record: Path, airflow_home: Path, caplog, masked):
    def run(params: dict[str, Any]) -> Run:
        before = set(os.environ)
        with caplog.at_level(logging.DEBUG):
            result = run_dag_file("identity_stack", **params)
        result.output += "\n" + caplog.text  # and the records themselves, whatever their handlers
        return Run(result, before, record, private_tmp, airflow_home, masked)

    return run


def sha(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def issued(fake: FakeGoogleTokenServer, endpoint: str) -> list[str]:
    return [t.token for t in fake.issued.values() if t.endpoint == endpoint]


REMOVED_PLANTED = set(PLANTED)


def assert_token_mode_env(run: Run, token: str) -> None:
    added, removed = run.env_delta()
    assert added == {"GOOGLE_OAUTH_ACCESS_TOKEN", "GOOGLE_CLOUD_PROJECT"}
    assert removed == REMOVED_PLANTED
    engine = run.engine["env"]
    assert engine["GOOGLE_OAUTH_ACCESS_TOKEN"] == sha(token)  # exactly this token, nothing else
    assert engine["GOOGLE_CLOUD_PROJECT"] == PROJECT
    for name in set(CREDENTIAL_ENV_VARS) - {"GOOGLE_OAUTH_ACCESS_TOKEN"}:
        assert engine[name] is None, name  # explicitly removed, not merely absent
    assert run.engine["file"] is None


def assert_iam_body(iam: Any, *, delegates: list[str], lifetime: str) -> None:
    """The generateAccessToken body. Delegates may be sent bare (google-auth passes them verbatim) or in
    the documented ``projects/-/serviceAccounts/EMAIL`` form; the fake's grants check each link anyway."""
    body = dict(iam.json)
    sent = body.pop("delegates")
    assert [d.removeprefix("projects/-/serviceAccounts/") for d in sent] == delegates, sent
    assert body == {"scope": [CLOUD], "lifetime": lifetime}
    assert iam.status == 200


def assert_principal(run: Run, principal: str, *, requests: int) -> None:
    """The principal in the task log and the stack history's update message; the round trips logged."""
    assert f"acts as {principal} (" in run.output
    lead = f"Obtained a Google Cloud credential for {principal} from"
    obtained = [line for line in run.output.splitlines() if lead in line]
    assert obtained and all(f", {requests} HTTP request(s))" in line for line in obtained), obtained
    assert f"identity={principal}" in run.history()
    assert f"identity={principal}" in run.history()


def assert_program_saw_config_not_token(run: Run) -> None:
    out = run.result.xcom("infra")
    assert out["project"] == PROJECT
    assert out["token_in_program"] == "absent"


# -- GKE metadata server ---------------------------------------------------------------------------


def test_metadata_server_token_mode(run_identity_dag, fake, record):
    run = run_identity_dag(dag_params(metadata(fake), record))
    assert run.result.state == "success", run.output[-3000:]

    reqs = fake.requests
    assert [r.endpoint for r in reqs] == ["metadata_info", "metadata_token"]
    assert reqs[0].query == {"recursive": "true"}
    assert reqs[1].query == {"scopes": CLOUD}
    assert all("metadata-flavor" in r.header_names for r in reqs)
    [token] = issued(fake, "metadata")

    assert_token_mode_env(run, token)
    assert_principal(run, NODE_SA, requests=2)
    assert_program_saw_config_not_token(run)
    run.assert_no_leak(token)
    run.assert_temp_clean()


def test_metadata_server_refreshable_mode(run_identity_dag, fake, record, monkeypatch):
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", PLANTED_STALE_TOKEN)
    run = run_identity_dag(dag_params(metadata(fake), record, mode="refreshable"))
    assert run.result.state == "success", run.output[-3000:]

    assert [r.endpoint for r in fake.requests] == ["metadata_info", "metadata_token"]
    [token] = issued(fake, "metadata")  # obtained up front to fail fast and learn the principal...

    added, removed = run.env_delta()
    assert added == {"GCE_METADATA_HOST", "GOOGLE_CLOUD_PROJECT"}
    assert removed == REMOVED_PLANTED | {"GOOGLE_OAUTH_ACCESS_TOKEN"}  # ...but not handed over
    engine = run.engine["env"]
    assert engine["GCE_METADATA_HOST"] == fake.metadata_host  # the engine asks the metadata server itself
    assert engine["GOOGLE_OAUTH_ACCESS_TOKEN"] is None and engine["GOOGLE_APPLICATION_CREDENTIALS"] is None
    assert run.engine["file"] is None

    assert_principal(run, NODE_SA, requests=2)
    assert "(refreshable mode)" in run.output
    assert run.result.xcom("infra")["token_in_program"] == PLANTED_STALE_TOKEN  # the worker's env, untouched
    run.assert_no_leak(token)
    run.assert_temp_clean()


# -- Workload Identity Federation ------------------------------------------------------------------


def test_federation_file_token_mode(run_identity_dag, fake, record, subject_file, subject_token):
    config = fake.external_account_config(subject_token_file=subject_file)
    run = run_identity_dag(dag_params(federation(config), record))
    assert run.result.state == "success", run.output[-3000:]

    [sts] = fake.requests
    assert sts.endpoint == "sts" and sts.method == "POST" and sts.status == 200
    assert sts.form["audience"] == AUDIENCE
    assert sts.form["scope"] == CLOUD
    assert sts.form["subject_token"] == subject_token
    assert sts.form["subject_token_type"] == "urn:ietf:params:oauth:token-type:jwt"
    assert sts.form["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    [token] = issued(fake, "sts")

    assert_token_mode_env(run, token)
    principal = f"federated principal of {AUDIENCE}"
    assert_principal(run, principal, requests=1)
    assert_program_saw_config_not_token(run)
    run.assert_no_leak(token, subject_token)
    run.assert_temp_clean()


def test_federation_file_refreshable_mode_hands_over_a_config_file(
    run_identity_dag, fake, record, subject_file, subject_token, private_tmp, monkeypatch
):
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", PLANTED_STALE_TOKEN)
    config = fake.external_account_config(subject_token_file=subject_file)
    run = run_identity_dag(dag_params(federation(config), record, mode="refreshable"))
    assert run.result.state == "success", run.output[-3000:]

    assert [r.endpoint for r in fake.requests] == ["sts"]
    [token] = issued(fake, "sts")

    added, removed = run.env_delta()
    assert "GOOGLE_APPLICATION_CREDENTIALS" in run.up["env_names"]
    assert added == {"GOOGLE_CLOUD_PROJECT"}  # GOOGLE_APPLICATION_CREDENTIALS: replaced, see below
    assert removed == (REMOVED_PLANTED - {"GOOGLE_APPLICATION_CREDENTIALS"}) | {"GOOGLE_OAUTH_ACCESS_TOKEN"}
    engine = run.engine["env"]
    snapshot = run.engine["file"]
    assert engine["GOOGLE_APPLICATION_CREDENTIALS"] == snapshot["path"] != PLANTED["GOOGLE_APPLICATION_CREDENTIALS"]
    assert engine["GOOGLE_OAUTH_ACCESS_TOKEN"] is None and engine["GOOGLE_CREDENTIALS"] is None
    assert engine["GOOGLE_CLOUD_PROJECT"] == PROJECT
    # A 0600 file in a 0700 dir under the temp dir, holding the configuration, not a token.
    path = Path(snapshot["path"])
    assert path.parent.parent == private_tmp and path.parent.name.startswith("airflow-pulumi-gcp-")
    assert snapshot["mode"] == 0o600 and snapshot["dir_mode"] == 0o700
    assert snapshot["config"] == config
    assert not path.exists() and not path.parent.exists()  # removed when the task ended

    assert_principal(run, f"federated principal of {AUDIENCE}", requests=1)
    run.assert_no_leak(token, subject_token)
    run.assert_temp_clean()


def test_federation_refreshable_file_is_removed_when_the_program_fails(
    run_identity_dag, fake, record, subject_file, subject_token
):
    config = fake.external_account_config(subject_token_file=subject_file)
    run = run_identity_dag(dag_params(federation(config), record, mode="refreshable", body="raises"))
    assert run.result.task_states["infra"] == "failed"
    assert "program failed on purpose" in run.output

    snapshot = run.engine["file"]  # the engine did get the file ...
    assert snapshot is not None and snapshot["config"] == config
    assert not Path(snapshot["path"]).exists()  # ... and it is gone after the failed task
    run.assert_no_leak(*issued(fake, "sts"), subject_token)
    run.assert_temp_clean()


def test_federation_subject_token_from_url(run_identity_dag, fake, record, subject_token):
    config = fake.external_account_config(subject_token_url=True)
    run = run_identity_dag(dag_params(federation(config), record))
    assert run.result.state == "success", run.output[-3000:]

    subject, sts = fake.requests
    assert subject.endpoint == "subject_token" and subject.method == "GET" and subject.status == 200
    assert "metadata-flavor" in subject.header_names  # the configured header was sent
    assert sts.endpoint == "sts" and sts.form["subject_token"] == subject_token
    assert sts.form["audience"] == AUDIENCE and sts.form["scope"] == CLOUD
    [token] = issued(fake, "sts")

    assert_token_mode_env(run, token)
    assert_principal(run, f"federated principal of {AUDIENCE}", requests=2)
    run.assert_no_leak(token, subject_token)


# -- impersonation ---------------------------------------------------------------------------------


def test_impersonation_over_metadata_with_delegate_and_lifetime(run_identity_dag, fake, record):
    identity = impersonation(metadata(fake), delegates=[DELEGATE], lifetime={"hours": 2}, iam_endpoint=fake.url)
    run = run_identity_dag(dag_params(identity, record, timeout={"minutes": 90}))
    assert run.result.state == "success", run.output[-3000:]

    info, meta_token, iam = fake.requests
    assert (info.endpoint, meta_token.endpoint, iam.endpoint) == ("metadata_info", "metadata_token", "iam")
    assert meta_token.query["scopes"] == IAM  # the source is re-scoped for the IAM call
    [source_token] = issued(fake, "metadata")
    [token] = issued(fake, "iam")
    assert iam.path == f"/v1/projects/-/serviceAccounts/{SA}:generateAccessToken"
    assert iam.bearer == source_token
    assert_iam_body(iam, delegates=[DELEGATE], lifetime="7200s")
    assert iam.status == 200

    assert_token_mode_env(run, token)  # the target's token, not the node's
    assert_principal(run, SA, requests=3)
    assert f"via {DELEGATE}" in run.output
    assert_program_saw_config_not_token(run)
    run.assert_no_leak(token, source_token)


def test_impersonation_over_federation_with_delegate_and_lifetime(
    run_identity_dag, fake, record, subject_file, subject_token
):
    config = fake.external_account_config(subject_token_file=subject_file)
    identity = impersonation(federation(config), delegates=[DELEGATE], lifetime=5400, iam_endpoint=fake.url)
    run = run_identity_dag(dag_params(identity, record))
    assert run.result.state == "success", run.output[-3000:]

    sts, iam = fake.requests
    assert sts.endpoint == "sts" and sts.form["scope"] == IAM and sts.form["audience"] == AUDIENCE
    assert sts.form["subject_token"] == subject_token
    [source_token] = issued(fake, "sts")
    [token] = issued(fake, "iam")
    assert iam.bearer == source_token
    assert_iam_body(iam, delegates=[DELEGATE], lifetime="5400s")
    assert fake.issued[token].principal == SA

    assert_token_mode_env(run, token)
    assert_principal(run, SA, requests=2)
    run.assert_no_leak(token, source_token, subject_token)


def test_impersonation_over_federation_refreshable_writes_impersonation_into_the_config(
    run_identity_dag, fake, record, subject_file, subject_token
):
    config = fake.external_account_config(subject_token_file=subject_file)
    identity = impersonation(federation(config), lifetime=1800, iam_endpoint=fake.url)
    run = run_identity_dag(dag_params(identity, record, mode="refreshable"))
    assert run.result.state == "success", run.output[-3000:]

    assert [r.endpoint for r in fake.requests] == ["sts", "iam"]
    assert fake.requests_to("iam")[0].json["lifetime"] == "1800s"
    snapshot = run.engine["file"]
    assert snapshot["config"] == {
        **config,
        "service_account_impersonation_url": fake.impersonation_url(SA),
        "service_account_impersonation": {"token_lifetime_seconds": 1800},
    }
    assert not Path(snapshot["path"]).exists()
    assert_principal(run, SA, requests=2)
    run.assert_no_leak(*fake.issued_tokens(), subject_token)
    run.assert_temp_clean()


# -- Airflow connection ----------------------------------------------------------------------------


def test_connection_with_config_file_and_impersonation_chain(
    run_identity_dag, fake, record, subject_file, subject_token, tmp_path, monkeypatch
):
    config_path = tmp_path / "wif-config.json"  # a mounted file, read at task start
    config_path.write_text(json.dumps(fake.external_account_config(subject_token_file=subject_file)))
    monkeypatch.setenv(
        "AIRFLOW_CONN_MY_GCP",
        json.dumps(
            {
                "conn_type": "google_cloud_platform",
                "extra": {
                    "credential_config_file": str(config_path),
                    "impersonation_chain": f"{DELEGATE},{SA}",
                    "project": "conn-project",
                },
            }
        ),
    )
    # A connection has no extra for the IAM endpoint: send Google's default one to the fake, as a
    # Private Service Connect DNS entry would.
    import google.auth.transport.requests as google_requests

    real_call = google_requests.Request.__call__

    def to_fake(self, url, *args, **kwargs):
        return real_call(self, url.replace("https://iamcredentials.googleapis.com", fake.url), *args, **kwargs)

    monkeypatch.setattr(google_requests.Request, "__call__", to_fake)
    # No gcp:project in the environment: the connection's project extra is used.
    run = run_identity_dag(dag_params({"kind": "connection", "conn_id": "my_gcp"}, record, config={}))
    assert run.result.state == "success", run.output[-3000:]

    sts, iam = fake.requests
    assert sts.endpoint == "sts" and sts.form["audience"] == AUDIENCE and sts.form["scope"] == IAM
    assert sts.form["subject_token"] == subject_token
    [token] = issued(fake, "iam")
    assert iam.path.endswith(f"/{SA}:generateAccessToken")
    assert_iam_body(iam, delegates=[DELEGATE], lifetime="3600s")

    added, removed = run.env_delta()
    assert added == {"GOOGLE_OAUTH_ACCESS_TOKEN", "GOOGLE_CLOUD_PROJECT"}
    assert removed == REMOVED_PLANTED
    assert run.engine["env"]["GOOGLE_OAUTH_ACCESS_TOKEN"] == sha(token)
    assert run.engine["env"]["GOOGLE_CLOUD_PROJECT"] == "conn-project"
    assert run.result.xcom("infra")["project"] == "unset"  # nothing in Pulumi config, as configured
    assert_principal(run, SA, requests=2)
    run.assert_no_leak(*fake.issued_tokens(), subject_token)


# -- faults through a DAG run ----------------------------------------------------------------------


def test_sts_400_fails_the_task_with_identity_error(run_identity_dag, fake, record, subject_file, subject_token):
    fake.inject("sts", status(400, error="invalid_grant", description="The subject token has expired."))
    config = fake.external_account_config(subject_token_file=subject_file)
    run = run_identity_dag(dag_params(federation(config), record))
    assert run.result.task_states["infra"] == "failed"

    assert [(r.endpoint, r.status) for r in fake.requests] == [("sts", 400)]  # permanent: no retry
    assert "IdentityError" in run.output
    assert f"[{fake.token_url}, HTTP 400]: invalid_grant: The subject token has expired." in run.output
    assert "Check the pool provider (audience)" in run.output
    assert not fake.issued  # no token exists
    assert not any("up" in rec["argv"] for rec in run.journal) and not record.exists()  # engine never ran
    run.assert_no_leak(subject_token)
    run.assert_temp_clean()


def test_sts_503_once_is_retried_and_the_task_succeeds(run_identity_dag, fake, record, subject_file, subject_token):
    fake.inject("sts", status(503))
    config = fake.external_account_config(subject_token_file=subject_file)
    run = run_identity_dag(dag_params(federation(config), record))
    assert run.result.state == "success", run.output[-3000:]

    assert [(r.endpoint, r.status) for r in fake.requests] == [("sts", 503), ("sts", 200)]
    assert "Transient failure" in run.output and f"{fake.token_url}, HTTP 503" in run.output
    [token] = issued(fake, "sts")
    assert run.engine["env"]["GOOGLE_OAUTH_ACCESS_TOKEN"] == sha(token)
    run.assert_no_leak(token, subject_token)


def test_short_lifetime_against_execution_timeout_fails_with_hint(run_identity_dag, fake, record, monkeypatch):
    # With execution_timeout this lifetime is refused when the DAG is parsed (tests/test_decorators.py); the
    # [pulumi] credential_budget is known only on the worker, so it is checked at task start.
    monkeypatch.setenv("AIRFLOW__PULUMI__CREDENTIAL_BUDGET", "3600")
    identity = impersonation(metadata(fake), delegates=[DELEGATE], lifetime=1200, iam_endpoint=fake.url)
    run = run_identity_dag(dag_params(identity, record))
    assert run.result.task_states["infra"] == "failed"

    assert [r.endpoint for r in fake.requests] == ["metadata_info", "metadata_token", "iam"]
    assert "CredentialLifetimeError" in run.output
    assert f"The Google Cloud token for {SA}" in run.output
    assert "time budget of 3600s plus a 300s margin" in run.output
    assert "ServiceAccountImpersonation(lifetime=...)" in run.output
    assert "Environment(credential_mode='refreshable')" in run.output
    assert not any("up" in rec["argv"] for rec in run.journal) and not record.exists()
    run.assert_no_leak(*fake.issued_tokens())


def test_short_metadata_token_lifetime_fails_token_mode(run_identity_dag, fake, record):
    fake.inject("metadata_token", short_lifetime(600))  # a node token with 10 minutes left
    run = run_identity_dag(dag_params(metadata(fake), record, timeout={"minutes": 30}))
    assert run.result.task_states["infra"] == "failed"
    assert "CredentialLifetimeError" in run.output and f"The Google Cloud token for {NODE_SA}" in run.output
    assert not record.exists()
    run.assert_no_leak(*fake.issued_tokens())
