"""A loopback fake of Google's token endpoints, for testing identity set-ups offline.

:class:`FakeGoogleTokenServer` serves, on ``127.0.0.1`` only:

* STS ``POST /v1/token`` (workload identity federation token exchange);
* IAM Credentials ``POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken``;
* the metadata server (``GET /``, ``/computeMetadata/v1/instance/service-accounts/default/``,
  ``.../token``, ``.../email``, ``/computeMetadata/v1/project/project-id``), requiring
  ``Metadata-Flavor: Google``;
* ``GET /subject-token``, an external subject token (OIDC) URL.

It records every request, issues random unique tokens with a configurable lifetime, validates
requests the way Google does where it matters (grant and token types, audience, subject token,
bearer tokens it issued and that have not expired, lifetimes, delegation grants), and takes queued
faults per endpoint. Example::

    from airflow_pulumi_decorators.identity import ServiceAccountImpersonation, WorkloadIdentityFederation
    from airflow_pulumi_decorators.identity import obtain_engine_credentials
    from airflow_pulumi_decorators.testing.google import FakeGoogleTokenServer, status

    with FakeGoogleTokenServer(subject_token="my-oidc-jwt") as fake:
        token_file = tmp_path / "token"
        token_file.write_text("my-oidc-jwt")
        config = fake.external_account_config(subject_token_file=token_file)
        identity = ServiceAccountImpersonation(
            "deployer@acme.iam.gserviceaccount.com",
            source=WorkloadIdentityFederation(config),
            iam_endpoint=fake.url,
        )
        fake.inject("iam", status(503))          # first generateAccessToken call fails
        with obtain_engine_credentials(identity, sleep=lambda s: None) as creds:
            assert creds.principal == "deployer@acme.iam.gserviceaccount.com"
        assert [r.endpoint for r in fake.requests] == ["sts", "iam", "sts", "iam"]

Point a :class:`~airflow_pulumi_decorators.identity.GkeMetadataServer` at it with
``metadata_host=fake.metadata_host``.
"""

from __future__ import annotations

import itertools
import json
import secrets
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from os import PathLike, fspath
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from airflow_pulumi_decorators.testing.loopback import LoopbackServer

__all__ = [
    "ENDPOINTS",
    "Fault",
    "FakeGoogleTokenServer",
    "IssuedToken",
    "RecordedRequest",
    "drop_connection",
    "hang",
    "short_lifetime",
    "slow",
    "status",
]

#: Endpoint names used by :meth:`FakeGoogleTokenServer.inject` and :attr:`RecordedRequest.endpoint`.
ENDPOINTS = ("sts", "iam", "metadata_ping", "metadata_info", "metadata_token", "metadata_other", "subject_token")

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
SUBJECT_TOKEN_TYPES = frozenset(
    {
        "urn:ietf:params:oauth:token-type:jwt",
        "urn:ietf:params:oauth:token-type:id_token",
        "urn:ietf:params:oauth:token-type:saml2",
        "urn:ietf:params:aws:token-type:aws4_request",
    }
)
DEFAULT_AUDIENCE = (
    "//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/fake-pool/providers/fake-provider"
)
IAM_SCOPE = "https://www.googleapis.com/auth/iam"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


# -- faults ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One queued misbehaviour; build with :func:`status`, :func:`slow`, :func:`hang`,
    :func:`short_lifetime` or :func:`drop_connection`."""

    kind: str
    status: int = 0
    error: str | None = None
    description: str | None = None
    seconds: float = 0.0


def status(code: int, error: str | None = None, description: str | None = None) -> Fault:
    """Answer with HTTP *code*; *error*/*description* fill Google's error body for that endpoint
    (OAuth ``{"error", "error_description"}`` for STS, ``{"error": {"code", "message", "status"}}``
    for IAM)."""
    return Fault("status", status=code, error=error, description=description)


def slow(seconds: float) -> Fault:
    """Wait *seconds*, then answer normally."""
    return Fault("slow", seconds=seconds)


def hang() -> Fault:
    """Never answer (until the server closes)."""
    return Fault("hang")


def short_lifetime(seconds: int) -> Fault:
    """Answer normally but issue a token that lives only *seconds*."""
    return Fault("short_lifetime", seconds=seconds)


def drop_connection() -> Fault:
    """Close the connection without answering."""
    return Fault("drop")


# -- records ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """A request the fake received.

    :ivar endpoint: one of :data:`ENDPOINTS`, or ``"unknown"``.
    :ivar header_names: lower-cased names of the headers sent (values are not kept, except below).
    :ivar bearer: the bearer token presented, if any (for assertions on chains).
    :ivar form: the parsed ``application/x-www-form-urlencoded`` body (single values).
    :ivar json: the parsed JSON body.
    :ivar status: the status answered (``None`` for a dropped or hung request).
    """

    method: str
    path: str
    query: Mapping[str, str]
    header_names: frozenset[str]
    endpoint: str
    bearer: str | None = None
    form: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    status: int | None = None
    fault: str | None = None
    at: float = 0.0


@dataclass(frozen=True)
class IssuedToken:
    """A token the fake issued: who it stands for, its scopes and expiry."""

    token: str
    principal: str
    scopes: tuple[str, ...]
    expires_at: datetime
    endpoint: str


# -- the server ------------------------------------------------------------------------------------


class FakeGoogleTokenServer:
    """A threaded stdlib HTTP server on ``127.0.0.1:<free port>`` faking Google's token endpoints.

    Use as a context manager (or :meth:`start` / :meth:`close`).

    :param token_lifetime: seconds every issued token lives, unless a :func:`short_lifetime` fault says otherwise.
    :param expected_audience: if set, STS refuses other audiences (``invalid_target``).
    :param subject_token: the token ``GET /subject-token`` serves; also, if *check_subject_token*,
        the only subject token STS accepts.
    :param check_subject_token: STS refuses subject tokens other than *subject_token*; a callable
        ``(token) -> bool`` decides instead when given.
    :param subject_token_format: ``"text"`` or ``"json"`` (``{"id_token": ...}``) for ``/subject-token``.
    :param metadata_email: the metadata server's default service account.
    :param project_id: served at ``/computeMetadata/v1/project/project-id``.
    :param iam_max_lifetime: IAM refuses longer lifetimes with 400 (3600 simulates no org policy).
    :param grants: if given, ``{service_account: {principals allowed to mint its tokens}}``; IAM then
        enforces each link of ``caller -> delegates... -> target`` (403 otherwise).
    :param port: the port to serve on; ``0`` (the default) picks a free one.
    """

    def __init__(
        self,
        *,
        token_lifetime: int = 3600,
        expected_audience: str | None = None,
        subject_token: str | None = None,
        check_subject_token: bool | Callable[[str], bool] = False,
        subject_token_format: str = "text",
        metadata_email: str = "fake-node@fake-project.iam.gserviceaccount.com",
        project_id: str = "fake-project",
        iam_max_lifetime: int = 43200,
        grants: Mapping[str, Iterable[str]] | None = None,
        port: int = 0,
    ) -> None:
        if subject_token_format not in ("text", "json"):
            raise ValueError("subject_token_format must be 'text' or 'json'")
        self.token_lifetime = token_lifetime
        self.expected_audience = expected_audience
        self.subject_token = subject_token if subject_token is not None else "fake-subject-" + secrets.token_urlsafe(24)
        self.check_subject_token = check_subject_token
        self.subject_token_format = subject_token_format
        self.metadata_email = metadata_email
        self.project_id = project_id
        self.iam_max_lifetime = iam_max_lifetime
        self.grants = {k: frozenset(v) for k, v in grants.items()} if grants is not None else None
        self._lock = threading.Lock()
        self._records: list[RecordedRequest] = []
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._issued: dict[str, IssuedToken] = {}
        self._closing = threading.Event()
        self._server: LoopbackServer | None = None
        self._port = port

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeGoogleTokenServer:
        if self._server is None:
            self._server = LoopbackServer(_make_handler(self), name="fake-google-token-server", port=self._port)
        return self

    def close(self) -> None:
        """Stop serving; releases hung requests. Idempotent."""
        self._closing.set()
        server, self._server = self._server, None
        if server is not None:
            server.close()

    def __enter__(self) -> FakeGoogleTokenServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- addresses ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeGoogleTokenServer is not running; use it as a context manager")
        return self._server.port

    @property
    def metadata_host(self) -> str:
        """``127.0.0.1:PORT``, for ``GkeMetadataServer(metadata_host=...)`` or ``GCE_METADATA_HOST``."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: also the IAM Credentials base URL (``iam_endpoint=``)."""
        return f"http://{self.metadata_host}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/v1/token"

    @property
    def subject_token_url(self) -> str:
        return f"{self.url}/subject-token"

    def impersonation_url(self, email: str) -> str:
        """The ``generateAccessToken`` URL for *email* on this fake."""
        return f"{self.url}/v1/projects/-/serviceAccounts/{email}:generateAccessToken"

    def external_account_config(
        self,
        *,
        subject_token_file: str | PathLike[str] | None = None,
        subject_token_url: bool = False,
        audience: str | None = None,
        impersonate: str | None = None,
        lifetime: int | None = None,
        subject_token_type: str = "urn:ietf:params:oauth:token-type:jwt",
        url_format_json: bool | None = None,
    ) -> dict[str, Any]:
        """An ``external_account`` credential configuration pointing at this fake.

        :param subject_token_file: read the subject token from this file (re-read on every exchange)...
        :param subject_token_url: ...or from this fake's ``/subject-token``.
        :param audience: the pool provider; default the fake's expected audience or a fixed one.
        :param impersonate: add ``service_account_impersonation_url`` for this e-mail.
        :param lifetime: add ``service_account_impersonation.token_lifetime_seconds``.
        :param url_format_json: with *subject_token_url*, parse JSON (``id_token``); default per the fake.
        """
        if (subject_token_file is None) == (not subject_token_url):
            raise ValueError("give exactly one of subject_token_file or subject_token_url=True")
        if subject_token_file is not None:
            source: dict[str, Any] = {"file": fspath(subject_token_file), "format": {"type": "text"}}
        else:
            as_json = self.subject_token_format == "json" if url_format_json is None else url_format_json
            source = {
                "url": self.subject_token_url,
                "headers": {"Metadata-Flavor": "Fake"},
                "format": {"type": "json", "subject_token_field_name": "id_token"} if as_json else {"type": "text"},
            }
        config: dict[str, Any] = {
            "type": "external_account",
            "audience": audience or self.expected_audience or DEFAULT_AUDIENCE,
            "subject_token_type": subject_token_type,
            "token_url": self.token_url,
            "credential_source": source,
        }
        if impersonate:
            config["service_account_impersonation_url"] = self.impersonation_url(impersonate)
        if lifetime is not None:
            config["service_account_impersonation"] = {"token_lifetime_seconds": lifetime}
        return config

    # -- faults and records ---------------------------------------------------------------------

    def inject(self, endpoint: str, *faults: Fault) -> None:
        """Queue *faults* for *endpoint* (one of :data:`ENDPOINTS`, or ``"metadata"`` for info and
        token alike); each request to it consumes one."""
        names = ("metadata_info", "metadata_token") if endpoint == "metadata" else (endpoint,)
        for name in names:
            if name not in ENDPOINTS:
                raise ValueError(f"unknown endpoint {endpoint!r}; use one of {ENDPOINTS} or 'metadata'")
        with self._lock:
            for name in names:
                self._faults[name].extend(faults)

    def _next_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(endpoint)
            return queue.popleft() if queue else None

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order (a copy)."""
        with self._lock:
            return list(self._records)

    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.endpoint == endpoint]

    def clear(self) -> None:
        """Forget recorded requests and pending faults (issued tokens stay valid)."""
        with self._lock:
            self._records.clear()
            self._faults.clear()

    def _record(self, record: RecordedRequest) -> None:
        with self._lock:
            self._records.append(record)

    @property
    def issued(self) -> dict[str, IssuedToken]:
        """Tokens issued so far, by token."""
        with self._lock:
            return dict(self._issued)

    def issued_tokens(self) -> set[str]:
        return set(self.issued)

    def _issue(self, principal: str, scopes: Iterable[str], lifetime: int, endpoint: str) -> IssuedToken:
        token = f"fake-{endpoint}-" + secrets.token_urlsafe(32)
        issued = IssuedToken(
            token=token,
            principal=principal,
            scopes=tuple(scopes),
            expires_at=datetime.now(timezone.utc) + timedelta(seconds=lifetime),
            endpoint=endpoint,
        )
        with self._lock:
            self._issued[token] = issued
        return issued

    def _lookup(self, token: str | None) -> IssuedToken | None:
        if not token:
            return None
        with self._lock:
            issued = self._issued.get(token)
        if issued is None or issued.expires_at <= datetime.now(timezone.utc):
            return None
        return issued


# -- request handling -------------------------------------------------------------------------------


class _Reply(Exception):
    def __init__(
        self, status: int, body: Any, content_type: str = "application/json", headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = dict(headers or {})


def _classify(method: str, path: str) -> str:
    if path == "/v1/token":
        return "sts"
    if path.endswith(":generateAccessToken"):
        return "iam"
    if path == "/subject-token":
        return "subject_token"
    if path in ("/", ""):
        return "metadata_ping"
    if path.startswith("/computeMetadata/v1/instance/service-accounts/"):
        rest = path[len("/computeMetadata/v1/instance/service-accounts/") :].strip("/").split("/")
        if len(rest) == 1:
            return "metadata_info"
        if len(rest) == 2 and rest[1] == "token":
            return "metadata_token"
        return "metadata_other"
    if path.startswith("/computeMetadata/"):
        return "metadata_other"
    return "unknown"


def _make_handler(fake: FakeGoogleTokenServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so closing the server leaves nothing half-open.
        protocol_version = "HTTP/1.0"
        server_version = "FakeGoogleTokenServer/1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass  # quiet: the request line of a subject-token URL could carry secrets

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def _handle(self, method: str) -> None:
            parts = urlsplit(self.path)
            path = unquote(parts.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            form: dict[str, str] = {}
            body_json: Any = None
            if ctype == "application/x-www-form-urlencoded":
                form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
            elif ctype == "application/json" and raw:
                try:
                    body_json = json.loads(raw)
                except ValueError:
                    body_json = None
            auth = self.headers.get("Authorization") or ""
            bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
            endpoint = _classify(method, path)
            base = dict(
                method=method,
                path=path,
                query=query,
                header_names=frozenset(h.lower() for h in self.headers.keys()),
                endpoint=endpoint,
                bearer=bearer,
                form=form,
                json=body_json,
                at=time.time(),
            )
            fault = fake._next_fault(endpoint)
            lifetime: int | None = None  # None: the endpoint's normal lifetime
            if fault is not None:
                if fault.kind == "hang":
                    fake._record(RecordedRequest(**base, status=None, fault="hang"))
                    fake._closing.wait()
                    self.close_connection = True
                    return
                if fault.kind == "drop":
                    fake._record(RecordedRequest(**base, status=None, fault="drop"))
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                if fault.kind == "slow":
                    fake._closing.wait(fault.seconds)
                if fault.kind == "short_lifetime":
                    lifetime = int(fault.seconds)
                if fault.kind == "status":
                    reply = _fault_reply(endpoint, fault)
                    fake._record(RecordedRequest(**base, status=reply.status, fault="status"))
                    self._send(reply)
                    return
            try:
                reply = _serve(fake, method, endpoint, path, query, self.headers, form, body_json, bearer, lifetime)
            except _Reply as caught:
                reply = caught
            fake._record(RecordedRequest(**base, status=reply.status, fault=fault.kind if fault else None))
            self._send(reply)

        def _send(self, reply: _Reply) -> None:
            if isinstance(reply.body, (dict, list)):
                data = json.dumps(reply.body).encode("utf-8")
            else:
                data = str(reply.body).encode("utf-8")
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (its timeout)

    return Handler


_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def _fault_reply(endpoint: str, fault: Fault) -> _Reply:
    code = fault.status
    if endpoint == "sts":
        body: Any = {"error": fault.error or _STATUS_NAMES.get(code, "error").lower()}
        if fault.description:
            body["error_description"] = fault.description
        return _Reply(code, body)
    if endpoint == "iam":
        return _Reply(code, _google_error(code, fault.description or fault.error or "injected fault"))
    if endpoint.startswith("metadata"):
        return _Reply(code, fault.description or "injected fault", "text/plain", {"Metadata-Flavor": "Google"})
    return _Reply(code, fault.description or "injected fault", "text/plain")


def _google_error(code: int, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": _STATUS_NAMES.get(code, "UNKNOWN")}}


def _sts_error(error: str, description: str) -> _Reply:
    return _Reply(400, {"error": error, "error_description": description})


def _serve(
    fake: FakeGoogleTokenServer,
    method: str,
    endpoint: str,
    path: str,
    query: Mapping[str, str],
    headers: Any,
    form: Mapping[str, str],
    body: Any,
    bearer: str | None,
    lifetime: int | None,
) -> _Reply:
    normal = lifetime if lifetime is not None else fake.token_lifetime  # short_lifetime(0) is legitimate
    if endpoint.startswith("metadata"):
        return _serve_metadata(fake, method, endpoint, path, query, headers, normal)
    if endpoint == "sts":
        return _serve_sts(fake, method, form, normal)
    if endpoint == "iam":
        return _serve_iam(fake, method, path, body, bearer, lifetime)
    if endpoint == "subject_token":
        if method != "GET":
            raise _Reply(405, "method not allowed", "text/plain")
        if fake.subject_token_format == "json":
            return _Reply(200, {"id_token": fake.subject_token})
        return _Reply(200, fake.subject_token, "text/plain")
    raise _Reply(404, _google_error(404, f"no such endpoint on the fake: {path}"))


def _serve_sts(fake: FakeGoogleTokenServer, method: str, form: Mapping[str, str], lifetime: int) -> _Reply:
    if method != "POST":
        raise _Reply(405, {"error": "invalid_request", "error_description": "POST required"})
    if form.get("grant_type") != GRANT_TYPE:
        raise _sts_error("unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type')!r}.")
    if form.get("requested_token_type") != ACCESS_TOKEN_TYPE:
        raise _sts_error("invalid_request", f"Invalid requested_token_type: {form.get('requested_token_type')!r}.")
    if form.get("subject_token_type") not in SUBJECT_TOKEN_TYPES:
        raise _sts_error("invalid_request", f"Invalid subject_token_type: {form.get('subject_token_type')!r}.")
    audience = form.get("audience") or ""
    if not audience:
        raise _sts_error("invalid_request", "The audience is required.")
    if fake.expected_audience is not None and audience != fake.expected_audience:
        raise _sts_error("invalid_target", "The target service indicated by the \"audience\" parameters is invalid.")
    subject = form.get("subject_token") or ""
    if not subject:
        raise _sts_error("invalid_request", "The subject_token is required.")
    check = fake.check_subject_token
    accepted = check(subject) if callable(check) else (not check or subject == fake.subject_token)
    if not accepted:
        raise _sts_error("invalid_grant", "The subject token is invalid or has expired.")
    scopes = tuple((form.get("scope") or "").split())
    if not scopes:
        raise _sts_error("invalid_scope", "At least one scope is required.")
    issued = fake._issue(f"principal://{audience.removeprefix('//')}/subject", scopes, lifetime, "sts")
    return _Reply(
        200,
        {
            "access_token": issued.token,
            "issued_token_type": ACCESS_TOKEN_TYPE,
            "token_type": "Bearer",
            "expires_in": lifetime,
        },
    )


def _serve_iam(
    fake: FakeGoogleTokenServer, method: str, path: str, body: Any, bearer: str | None, lifetime: int | None
) -> _Reply:
    if method != "POST":
        raise _Reply(405, _google_error(405, "POST required"))
    caller = fake._lookup(bearer)
    if caller is None:
        raise _Reply(
            401,
            _google_error(401, "Request had invalid authentication credentials. Expected OAuth 2 access token."),
        )
    if IAM_SCOPE not in caller.scopes and CLOUD_PLATFORM_SCOPE not in caller.scopes:
        raise _Reply(403, _google_error(403, "Request had insufficient authentication scopes."))
    target = path.rsplit("/", 1)[-1].removesuffix(":generateAccessToken")
    if not isinstance(body, dict):
        raise _Reply(400, _google_error(400, "Invalid JSON payload received."))
    scopes = body.get("scope") or []
    if not scopes:
        raise _Reply(400, _google_error(400, "Scope required."))
    delegates = body.get("delegates") or []
    requested = str(body.get("lifetime") or "3600s")
    try:
        seconds = int(float(requested.removesuffix("s")))
    except ValueError:
        raise _Reply(400, _google_error(400, f"Invalid value at 'lifetime' ({requested})")) from None
    if seconds > fake.iam_max_lifetime:
        raise _Reply(
            400,
            _google_error(
                400,
                f"The lifetime {seconds}s exceeds the maximum allowed lifetime of {fake.iam_max_lifetime}s for "
                f"{target}.",
            ),
        )
    if fake.grants is not None:
        chain = [caller.principal, *[d.split("/")[-1] for d in delegates], target]
        for granter, grantee in itertools.pairwise(chain):
            if granter not in fake.grants.get(grantee, frozenset()):
                raise _Reply(
                    403,
                    _google_error(
                        403,
                        "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).",
                    ),
                )
    # IAM grants the lifetime asked for (a short_lifetime fault overrides it).
    issued = fake._issue(target, scopes, lifetime if lifetime is not None else seconds, "iam")
    return _Reply(200, {"accessToken": issued.token, "expireTime": issued.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")})


def _serve_metadata(
    fake: FakeGoogleTokenServer,
    method: str,
    endpoint: str,
    path: str,
    query: Mapping[str, str],
    headers: Any,
    lifetime: int,
) -> _Reply:
    flavor = {"Metadata-Flavor": "Google"}
    if (headers.get("Metadata-Flavor") or "") != "Google":
        raise _Reply(403, "Missing required header: Metadata-Flavor: Google", "text/plain", flavor)
    if method != "GET":
        raise _Reply(405, "method not allowed", "text/plain", flavor)
    if endpoint == "metadata_ping":
        return _Reply(200, "computeMetadata/", "text/plain", flavor)
    prefix = "/computeMetadata/v1/instance/service-accounts/"
    if endpoint in ("metadata_info", "metadata_token", "metadata_other") and path.startswith(prefix):
        rest = path[len(prefix):].strip("/").split("/")
        account = rest[0]
        if account not in ("default", fake.metadata_email):
            raise _Reply(404, "Not Found", "text/plain", flavor)
        leaf = rest[1] if len(rest) > 1 else ""
        if leaf == "":
            if query.get("recursive") != "true":
                return _Reply(200, "aliases\nemail\nidentity\nscopes\ntoken\n", "application/text", flavor)
            return _Reply(
                200,
                {"aliases": ["default"], "email": fake.metadata_email, "scopes": [CLOUD_PLATFORM_SCOPE]},
                "application/json",
                flavor,
            )
        if leaf == "email":
            return _Reply(200, fake.metadata_email, "application/text", flavor)
        if leaf == "scopes":
            return _Reply(200, CLOUD_PLATFORM_SCOPE + "\n", "application/text", flavor)
        if leaf == "token":
            scopes = tuple(s for s in (query.get("scopes") or CLOUD_PLATFORM_SCOPE).split(",") if s)
            issued = fake._issue(fake.metadata_email, scopes, lifetime, "metadata")
            return _Reply(
                200,
                {"access_token": issued.token, "expires_in": lifetime, "token_type": "Bearer"},
                "application/json",
                flavor,
            )
    if path == "/computeMetadata/v1/project/project-id":
        return _Reply(200, fake.project_id, "application/text", flavor)
    if path == "/computeMetadata/v1/universe/universe-domain":
        return _Reply(200, "googleapis.com", "application/text", flavor)
    raise _Reply(404, "Not Found", "text/plain", flavor)
