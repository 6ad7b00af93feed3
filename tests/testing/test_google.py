"""FakeGoogleTokenServer on its own, driven with stdlib urllib (no google-auth)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from airflow_pulumi_decorators.testing.google import (
    ENDPOINTS,
    FakeGoogleTokenServer,
    drop_connection,
    hang,
    short_lifetime,
    slow,
    status,
)

CLOUD = "https://www.googleapis.com/auth/cloud-platform"
IAM = "https://www.googleapis.com/auth/iam"
SA = "deployer@acme.iam.gserviceaccount.com"
D1 = "d1@acme.iam.gserviceaccount.com"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
JWT = "urn:ietf:params:oauth:token-type:jwt"

# Never through a proxy, whatever the environment says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(url: str, *, method: str = "GET", form: dict | None = None, body: Any = None,
         headers: dict | None = None, timeout: float = 5) -> tuple[int, Any]:
    data = None
    headers = dict(headers or {})
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            raw, code, ctype = response.read(), response.status, response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as err:
        raw, code, ctype = err.read(), err.code, err.headers.get("Content-Type", "")
    return code, json.loads(raw) if ctype.startswith("application/json") else raw.decode()


def sts_form(fake: FakeGoogleTokenServer, **changes: str) -> dict:
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "requested_token_type": ACCESS_TOKEN,
        "subject_token_type": JWT,
        "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
        "subject_token": fake.subject_token,
        "scope": CLOUD,
    }
    form.update(changes)
    return form


@pytest.fixture
def fake():
    with FakeGoogleTokenServer(check_subject_token=True) as server:
        yield server


def md(fake: FakeGoogleTokenServer, path: str, **kw: Any) -> tuple[int, Any]:
    return call(f"{fake.url}/computeMetadata/v1/{path}", headers={"Metadata-Flavor": "Google"}, **kw)


def test_binds_loopback_only(fake) -> None:  # noqa: ANN001
    assert fake.url.startswith("http://127.0.0.1:") and fake.port > 0
    assert fake._server.address[0] == "127.0.0.1"


def test_sts_exchange_issues_unique_tokens_and_records(fake) -> None:  # noqa: ANN001
    code1, first = call(fake.token_url, method="POST", form=sts_form(fake))
    code2, second = call(fake.token_url, method="POST", form=sts_form(fake))
    assert code1 == code2 == 200
    assert first["access_token"] != second["access_token"]
    assert first["expires_in"] == 3600 and first["issued_token_type"] == ACCESS_TOKEN
    record = fake.requests[0]
    assert (record.method, record.endpoint, record.status) == ("POST", "sts", 200)
    assert record.form["audience"].startswith("//iam.googleapis.com/")
    assert "content-type" in record.header_names
    assert fake.issued[first["access_token"]].scopes == (CLOUD,)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"requested_token_type": "urn:x"}, "invalid_request"),
        ({"subject_token_type": "urn:x"}, "invalid_request"),
        ({"audience": ""}, "invalid_request"),
        ({"subject_token": "forged"}, "invalid_grant"),
        ({"scope": ""}, "invalid_scope"),
    ],
)
def test_sts_validates_like_google(fake, changes: dict, error: str) -> None:  # noqa: ANN001
    code, body = call(fake.token_url, method="POST", form=sts_form(fake, **changes))
    assert code == 400 and body["error"] == error and body["error_description"]


def test_sts_expected_audience() -> None:
    with FakeGoogleTokenServer(expected_audience="//iam.googleapis.com/good") as fake:
        assert call(fake.token_url, method="POST", form=sts_form(fake))[1]["error"] == "invalid_target"
        assert call(fake.token_url, method="POST", form=sts_form(fake, audience="//iam.googleapis.com/good"))[0] == 200


def _sts_token(fake: FakeGoogleTokenServer, scope: str = IAM) -> str:
    return call(fake.token_url, method="POST", form=sts_form(fake, scope=scope))[1]["access_token"]


def test_iam_generate_access_token(fake) -> None:  # noqa: ANN001
    bearer = _sts_token(fake)
    code, body = call(
        fake.impersonation_url(SA), method="POST", headers={"Authorization": f"Bearer {bearer}"},
        body={"delegates": None, "scope": [CLOUD], "lifetime": "1800s"},
    )
    assert code == 200
    issued = fake.issued[body["accessToken"]]
    assert issued.principal == SA and issued.scopes == (CLOUD,)
    assert body["expireTime"].endswith("Z") and "." not in body["expireTime"]
    assert 1790 <= (issued.expires_at.timestamp() - time.time()) <= 1800
    assert fake.requests[-1].bearer == bearer and fake.requests[-1].json["lifetime"] == "1800s"


@pytest.mark.parametrize(
    ("bearer", "body", "expected"),
    [
        (None, {"scope": [CLOUD]}, 401),
        ("not-issued-by-the-fake", {"scope": [CLOUD]}, 401),
        ("VALID", {"scope": []}, 400),
        ("VALID", {"scope": [CLOUD], "lifetime": "50000s"}, 400),
    ],
)
def test_iam_validation(fake, bearer: str | None, body: dict, expected: int) -> None:  # noqa: ANN001
    if bearer == "VALID":
        bearer = _sts_token(fake)
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    code, reply = call(fake.impersonation_url(SA), method="POST", headers=headers, body=body)
    assert code == expected and reply["error"]["code"] == expected


def test_iam_refuses_expired_and_underscoped_bearers(fake) -> None:  # noqa: ANN001
    fake.inject("sts", short_lifetime(0))
    expired = _sts_token(fake)
    assert call(fake.impersonation_url(SA), method="POST", headers={"Authorization": f"Bearer {expired}"},
                body={"scope": [CLOUD]})[0] == 401
    narrow = _sts_token(fake, scope="https://www.googleapis.com/auth/devstorage.read_only")
    assert call(fake.impersonation_url(SA), method="POST", headers={"Authorization": f"Bearer {narrow}"},
                body={"scope": [CLOUD]})[0] == 403


def test_iam_enforces_delegation_grants() -> None:
    with FakeGoogleTokenServer(grants={}) as fake:
        bearer = _sts_token(fake)
        caller = fake.issued[bearer].principal
        request = dict(method="POST", headers={"Authorization": f"Bearer {bearer}"},
                       body={"scope": [CLOUD], "delegates": [f"projects/-/serviceAccounts/{D1}"]})
        assert call(fake.impersonation_url(SA), **request)[0] == 403
        fake.grants = {D1: frozenset({caller}), SA: frozenset({D1})}
        assert call(fake.impersonation_url(SA), **request)[0] == 200


def test_iam_max_lifetime_simulates_missing_org_policy() -> None:
    with FakeGoogleTokenServer(iam_max_lifetime=3600) as fake:
        bearer = _sts_token(fake)
        code, body = call(fake.impersonation_url(SA), method="POST", headers={"Authorization": f"Bearer {bearer}"},
                          body={"scope": [CLOUD], "lifetime": "7200s"})
        assert code == 400 and "maximum" in body["error"]["message"]


def test_metadata_server(fake) -> None:  # noqa: ANN001
    assert call(f"{fake.url}/", headers={"Metadata-Flavor": "Google"})[0] == 200
    code, info = md(fake, "instance/service-accounts/default/", )
    assert code == 200 and "email" in info
    code, info = md(fake, "instance/service-accounts/default/?recursive=true")
    assert info == {"aliases": ["default"], "email": fake.metadata_email, "scopes": [CLOUD]}
    assert md(fake, "instance/service-accounts/default/email") == (200, fake.metadata_email)
    assert md(fake, "project/project-id") == (200, fake.project_id)
    code, token = md(fake, f"instance/service-accounts/default/token?scopes={IAM},{CLOUD}")
    assert code == 200 and token["expires_in"] == 3600
    assert fake.issued[token["access_token"]].scopes == (IAM, CLOUD)
    assert md(fake, "instance/service-accounts/other@x.iam.gserviceaccount.com/")[0] == 404
    assert [r.endpoint for r in fake.requests][:3] == ["metadata_ping", "metadata_info", "metadata_info"]


def test_metadata_requires_flavor_header(fake) -> None:  # noqa: ANN001
    code, text = call(f"{fake.url}/computeMetadata/v1/instance/service-accounts/default/token")
    assert code == 403 and "Metadata-Flavor" in text
    assert "metadata-flavor" not in fake.requests[0].header_names


def test_subject_token_endpoint_text_and_json() -> None:
    with FakeGoogleTokenServer(subject_token="abc.def.ghi") as fake:
        assert call(fake.subject_token_url) == (200, "abc.def.ghi")
    with FakeGoogleTokenServer(subject_token="abc.def.ghi", subject_token_format="json") as fake:
        assert call(fake.subject_token_url) == (200, {"id_token": "abc.def.ghi"})


def test_faults_are_queued_per_endpoint_and_consumed_in_order(fake) -> None:  # noqa: ANN001
    fake.inject("sts", status(503), status(400, error="invalid_grant", description="nope"))
    fake.inject("metadata", status(500))
    assert call(fake.token_url, method="POST", form=sts_form(fake))[0] == 503
    assert call(fake.token_url, method="POST", form=sts_form(fake)) == (
        400,
        {"error": "invalid_grant", "error_description": "nope"},
    )
    assert call(fake.token_url, method="POST", form=sts_form(fake))[0] == 200
    assert md(fake, "instance/service-accounts/default/?recursive=true")[0] == 500  # "metadata" = info...
    assert md(fake, "instance/service-accounts/default/token")[0] == 500  # ...and token
    assert md(fake, "instance/service-accounts/default/token")[0] == 200
    assert [r.fault for r in fake.requests_to("sts")] == ["status", "status", None]
    with pytest.raises(ValueError, match="unknown endpoint"):
        fake.inject("nope", status(500))
    assert "iam" in ENDPOINTS


def test_short_lifetime_and_slow(fake) -> None:  # noqa: ANN001
    fake.inject("sts", short_lifetime(42), slow(0.2))
    assert call(fake.token_url, method="POST", form=sts_form(fake))[1]["expires_in"] == 42
    started = time.monotonic()
    assert call(fake.token_url, method="POST", form=sts_form(fake))[0] == 200
    assert time.monotonic() - started >= 0.2


def test_drop_connection(fake) -> None:  # noqa: ANN001
    fake.inject("sts", drop_connection())
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        call(fake.token_url, method="POST", form=sts_form(fake))
    assert fake.requests[0].fault == "drop" and fake.requests[0].status is None


def test_hang_until_client_timeout_and_released_on_close() -> None:
    fake = FakeGoogleTokenServer().start()
    fake.inject("iam", hang())
    started = time.monotonic()
    with pytest.raises((TimeoutError, urllib.error.URLError, OSError)):
        call(fake.impersonation_url(SA), method="POST", body={}, timeout=0.3)
    assert time.monotonic() - started < 3
    closer = threading.Thread(target=fake.close)
    closer.start()
    closer.join(5)
    assert not closer.is_alive()


def test_external_account_config_helper(fake, tmp_path) -> None:  # noqa: ANN001
    config = fake.external_account_config(subject_token_file=tmp_path / "t", impersonate=SA, lifetime=600)
    assert config["token_url"] == fake.token_url
    assert config["credential_source"]["file"] == str(tmp_path / "t")
    assert config["service_account_impersonation_url"] == fake.impersonation_url(SA)
    assert config["service_account_impersonation"] == {"token_lifetime_seconds": 600}
    by_url = fake.external_account_config(subject_token_url=True)
    assert by_url["credential_source"]["url"] == fake.subject_token_url
    with pytest.raises(ValueError):
        fake.external_account_config()


def test_not_running_is_explicit() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        _ = FakeGoogleTokenServer().url
