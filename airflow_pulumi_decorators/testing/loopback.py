"""An HTTP server on ``127.0.0.1`` (a free port), served from a daemon thread: the base of our fakes."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer:
    """Serve ``handler`` on ``127.0.0.1`` until :meth:`close`; starts at once.

    :param handler: the request handler class.
    :param name: the serving thread's name (shows in thread dumps).
    :param poll_interval: how often the loop checks for shutdown; short, so :meth:`close` is quick
        (``serve_forever`` waits 0.5 s by default).
    :param port: the port to bind; ``0`` picks a free one.
    """

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], *, name: str, poll_interval: float = 0.02, port: int = 0
    ) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": poll_interval}, name=name, daemon=True
        )
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        """The bound ``(host, port)``."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def port(self) -> int:
        return self.address[1]

    def close(self) -> None:
        """Stop serving and release the port (waits up to 5 s for the serving thread)."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
