"""The loopback HTTP server our fakes are built on (:mod:`airflow_pulumi_decorators.testing.loopback`)."""

from __future__ import annotations

import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler

import pytest

from airflow_pulumi_decorators.testing.loopback import LoopbackServer


class Hello(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the stdlib's name
        body = f"hello {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_serves_on_a_free_loopback_port_from_a_named_daemon_thread():
    server = LoopbackServer(Hello, name="apd-loopback-test")
    try:
        host, port = server.address
        assert host == "127.0.0.1" and port == server.port > 0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/x", timeout=5) as response:
            assert response.read() == b"hello /x"
        thread = next(t for t in threading.enumerate() if t.name == "apd-loopback-test")
        assert thread.daemon
    finally:
        server.close()


def test_close_is_quick_and_releases_the_port():
    server = LoopbackServer(Hello, name="apd-loopback-close")
    port = server.port
    started = time.monotonic()
    server.close()
    assert time.monotonic() - started < 1
    assert not any(t.name == "apd-loopback-close" for t in threading.enumerate())
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
    again = LoopbackServer(Hello, name="apd-loopback-again", port=port)  # the port is free again
    try:
        assert again.port == port
    finally:
        again.close()
