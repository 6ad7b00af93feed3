"""A ``gs://`` state backend on the real ``pulumi`` CLI, offline: real DAG runs (``dag.test()``) whose stack
state lands in an emulated bucket, with every request the CLI sends to the storage service recorded
(``tests/real_cli/gcs.py``: ``fake-gcs-server`` behind a TLS-terminating proxy for
``storage.googleapis.com``).

The identity is service-account impersonation over workload identity federation, against
:class:`FakeGoogleTokenServer`. For each credential mode we check that the bearer token the storage service
saw on every request is one our identity handoff minted:

* ``token``: exactly the token the handoff obtained up front and handed over as ``GOOGLE_OAUTH_ACCESS_TOKEN``;
* ``refreshable``: tokens the CLI's own Google libraries minted from the fake, through the 0600 credential
  configuration the handoff wrote (impersonation included), and not the handoff's up-front token, which is
  not handed over; and when those tokens live only seconds, the CLI replaces them itself before they
  expire (one fresh token per request).

And that nothing else was contacted, the state is in the bucket (not in the worker's ``file://`` backend),
and no token appears in the task log, the XComs, the rendered fields or any object in the bucket.
"""

from __future__ import annotations

import http.client
import json
import logging
import ssl
from collections import Counter
from pathlib import Path

import pytest

from airflow_pulumi_decorators.testing.google import FakeGoogleTokenServer, short_lifetime, slow
from tests.dagrun import all_text_under
from tests.real_cli.gcs import STORAGE_HOST, RecordingProxy

pytestmark = [pytest.mark.integration, pytest.mark.real_cli]

SA = "deployer@acme-prod.iam.gserviceaccount.com"
PROJECT = "gcsstate"

def dag_params(fake: FakeGoogleTokenServer, subject_file: Path, backend_url: str, mode: str) -> dict:
    """The parameters of ``dags/gcs_stack.py``."""
    return {
        "sa": SA,
        "config": fake.external_account_config(subject_token_file=subject_file),
        "iam": fake.url,
        "backend": backend_url,
        "mode": mode,
        "project": PROJECT,
    }


@pytest.fixture
def run_gcs_dag(run_dag_file, engine, gcs_backend, fake, subject_file, caplog):
    """Run ``dags/gcs_stack.py`` on the real CLI with the ``gs://`` backend, in *mode*."""

    def run(mode: str):
        assert engine.real
        # DEBUG for this package only: at_level() on the root logger would, on leaving, put back the level
        # from before the session's first dag.test() configured Airflow's logging, silencing later tests.
        with caplog.at_level(logging.DEBUG, logger="airflow_pulumi_decorators"):
            params = dag_params(fake, subject_file, gcs_backend.url, mode)
            result = run_dag_file("real_cli/dags/gcs_stack", engine=engine, **params)
        result.output += "\n" + caplog.text  # the records themselves too, whatever their handlers
        return result

    return run


def assert_state_in_bucket(result, gcs_backend) -> None:
    """The DAG ran, its stack state is in the bucket (and nowhere on the worker), the output flowed on."""
    assert result.state == "success", result.output[-4000:]
    dataset = result.xcom("infra", "dataset")
    assert dataset.startswith("raw_") and result.xcom("load") == f"loaded {dataset}"

    names = gcs_backend.object_names()
    prefix = f"{gcs_backend.prefix}/.pulumi/"
    assert f"{prefix}stacks/{PROJECT}/dev.json" in names, names
    assert all(n.startswith(prefix) for n in names), names  # under the URL's prefix only
    assert any(n.startswith(f"{prefix}history/{PROJECT}/dev/") for n in names), names
    latest = gcs_backend.state(PROJECT)["checkpoint"]["latest"]
    [made] = [r for r in latest["resources"] if r["urn"].endswith("::dataset")]
    assert made["type"].startswith("pulumi-python:dynamic") and made["outputs"]["name"] == dataset
    # The worker's own file:// backend (PULUMI_BACKEND_URL of the test) was not used.
    assert not any(result.backend.rglob("*.json")), sorted(map(str, result.backend.rglob("*")))

    # The stack file was written and read back through the proxy: the recording is of the real traffic.
    stack_object = f"{prefix}stacks/{PROJECT}/dev.json".replace("/", "%2F")
    paths = [(r.method, r.path) for r in gcs_backend.proxy.requests]
    assert any(m == "POST" and p.startswith("/upload/storage/v1/b/") and f"name={stack_object}" in p for m, p in paths)
    assert all(r.host == STORAGE_HOST and r.status < 500 for r in gcs_backend.proxy.requests)
    assert gcs_backend.proxy.refused == []  # nothing but storage.googleapis.com was asked for


def assert_no_leak(result, gcs_backend, *values: str) -> None:
    assert values and all(len(v) > 16 for v in values)
    places = {
        "task log": result.output,
        "xcom": json.dumps(result.xcoms, default=str),
        "rendered fields": json.dumps(result.rendered, default=str),
        "bucket (state, history, backups, locks)": gcs_backend.all_text(),
        "worker file backend": all_text_under(result.backend),
    }
    leaks = [(where, value[:14] + "...") for value in values for where, text in places.items() if value in text]
    assert not leaks, leaks


@pytest.mark.parametrize("engine", ["real"], indirect=True)
def test_token_mode_storage_sees_only_the_handed_over_token(run_gcs_dag, gcs_backend, fake):
    result = run_gcs_dag("token")
    assert_state_in_bucket(result, gcs_backend)

    # The handoff minted one token up front (STS, then IAM as the service account) and nothing else did.
    assert [r.endpoint for r in fake.requests] == ["sts", "iam"]
    [token] = [t.token for t in fake.issued.values() if t.endpoint == "iam"]
    assert fake.issued[token].principal == SA

    requests = gcs_backend.proxy.requests
    assert len(requests) >= 10, len(requests)
    assert {r.authorization for r in requests} == {"Bearer"}  # every request authenticated ...
    assert {r.bearer for r in requests} == {token}  # ... with exactly the handed-over token
    assert_no_leak(result, gcs_backend, *fake.issued_tokens(), fake.subject_token)


@pytest.mark.parametrize("engine", ["real"], indirect=True)
def test_refreshable_mode_storage_sees_tokens_the_cli_minted_itself(run_gcs_dag, gcs_backend, fake):
    result = run_gcs_dag("refreshable")
    assert_state_in_bucket(result, gcs_backend)

    # First the handoff (STS + IAM, up front, to fail fast and learn the principal); then each CLI process
    # that opened the backend exchanged the subject token and impersonated the service account itself.
    endpoints = [r.endpoint for r in fake.requests]
    assert endpoints[:2] == ["sts", "iam"] and len(endpoints) > 2, endpoints
    assert set(endpoints) == {"sts", "iam"}, endpoints  # never the metadata server
    assert endpoints == ["sts", "iam"] * (len(endpoints) // 2), endpoints
    handoff_token = next(t.token for t in fake.issued.values() if t.endpoint == "iam")
    sts_tokens = {t.token for t in fake.issued.values() if t.endpoint == "sts"}
    assert all(r.bearer in sts_tokens for r in fake.requests_to("iam"))  # the chain: STS, then IAM
    assert all(r.status == 200 for r in fake.requests)

    requests = gcs_backend.proxy.requests
    seen = [r.bearer for r in requests]
    assert len(seen) >= 10 and None not in seen, len(seen)
    distinct = Counter(seen)
    assert set(distinct) <= fake.issued_tokens()  # every one minted by the fake token server ...
    assert all(fake.issued[t].endpoint == "iam" and fake.issued[t].principal == SA for t in distinct)
    assert handoff_token not in distinct  # ... by the CLI itself: the up-front token was not handed over
    # One impersonated token per CLI process that opened the backend, none minted and then left unused.
    assert len(distinct) == len(fake.requests_to("iam")) - 1, (len(distinct), endpoints)
    assert_no_leak(result, gcs_backend, *fake.issued_tokens(), fake.subject_token)


# -- the harness itself ----------------------------------------------------------------------------


def _through_proxy(proxy: RecordingProxy, host: str, method: str, path: str, headers: dict[str, str]):
    context = ssl.create_default_context(cafile=str(proxy.ca_file))
    proxy_host, proxy_port = proxy.url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPSConnection(proxy_host, int(proxy_port), context=context, timeout=10)
    conn.set_tunnel(host, 443)
    try:
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_the_proxy_records_storage_requests_and_refuses_other_hosts(gcs_backend):
    proxy, bucket = gcs_backend.proxy, gcs_backend.bucket
    status, body = _through_proxy(
        proxy, STORAGE_HOST, "GET", f"/storage/v1/b/{bucket}/o", {"Authorization": "Bearer t-1"}
    )
    assert status == 200 and json.loads(body)["kind"] == "storage#objects"
    status, _ = _through_proxy(proxy, STORAGE_HOST, "GET", f"/storage/v1/b/{bucket}/o/missing", {})
    assert status == 404
    [first, second] = proxy.requests
    assert (first.method, first.path, first.bearer, first.authorization, first.status) == (
        "GET", f"/storage/v1/b/{bucket}/o", "t-1", "Bearer", 200)
    assert (second.bearer, second.authorization, second.status) == (None, None, 404)

    for host in ("oauth2.googleapis.com", "api.pulumi.com"):
        with pytest.raises(OSError, match="502"):
            _through_proxy(proxy, host, "GET", "/", {})
    assert [r.target for r in proxy.refused] == ["oauth2.googleapis.com:443", "api.pulumi.com:443"]
    assert len(proxy.requests) == 2  # refused tunnels carry no request


@pytest.mark.parametrize("engine", ["real"], indirect=True)
def test_refreshable_mode_the_cli_refreshes_an_expiring_token_itself(run_gcs_dag, gcs_backend, fake):
    # The handoff's own impersonation call is answered normally; every later one (the CLI's) issues a
    # token living 5 s, which Google's Go client already counts as expired (it refreshes 10 s early).
    fake.inject("iam", slow(0), *[short_lifetime(5)] * 1000)
    result = run_gcs_dag("refreshable")
    assert_state_in_bucket(result, gcs_backend)

    requests = gcs_backend.proxy.requests
    issued = fake.issued
    assert all(r.bearer in issued and issued[r.bearer].principal == SA for r in requests)
    # Each token was used before it expired: the CLI did refresh, it did not go on with a stale one.
    assert all(r.at < issued[r.bearer].expires_at.timestamp() for r in requests)
    # So every request went out with a token minted for it (92 requests, 92 tokens, with CLI v3.274.1).
    assert len({r.bearer for r in requests}) == len(requests) >= 10, len({r.bearer for r in requests})
    assert_no_leak(result, gcs_backend, *fake.issued_tokens(), fake.subject_token)
