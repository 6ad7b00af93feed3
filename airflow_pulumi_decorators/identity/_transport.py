"""The HTTP seam between google-auth and Google: timeouts, retries' raw material, secret hygiene.

:class:`GuardedRequest` wraps any ``google.auth.transport.Request``. For every call it

* enforces our per-request timeout (google-auth's STS / IAM calls would otherwise wait 120 s);
* redirects metadata-server URLs to a host chosen at call time (google-auth fixes the host when it is
  first imported);
* learns every secret crossing it (subject tokens, bearer tokens, issued access tokens) so that error
  text can be scrubbed and each token handed to ``mask`` the moment it exists;
* records ``(method, url, status)`` so a google-auth error, which carries no status, can be attributed
  to the endpoint and HTTP status that caused it;
* turns transient failures (5xx, 429, 408, connection errors, timeouts) into :class:`TransientHTTPError`,
  which is *not* a google-auth exception: it escapes google-auth's own metadata retry loop (5 attempts
  with real sleeps) so our bounded, injectable retry policy is the only one.

Nothing here imports google-auth at module import.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_TOKEN_FIELDS = ("access_token", "accessToken", "id_token", "token", "subject_token")
_MIN_SECRET_LEN = 8
REDACTED = "[REDACTED]"

# Shapes of secrets we may not have seen go by (defence in depth for error text).
_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=\-]+"),
    re.compile(r'(?i)("?(?:access_token|accessToken|id_token|subject_token|token)"?\s*[:=]\s*"?)[^"&,\s}]+'),
    re.compile(r"ya29\.[A-Za-z0-9._\-]+"),
    re.compile(r"eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*"),
)


class TransientHTTPError(Exception):
    """A failure worth retrying. Deliberately not a google-auth exception (see module docstring)."""

    def __init__(self, endpoint: str, status: int | None, detail: str) -> None:
        super().__init__(detail)
        self.endpoint = endpoint
        self.status = status
        self.detail = detail


@dataclass
class Exchange:
    """One HTTP call as the guard saw it (never holds a secret)."""

    method: str
    url: str
    status: int | None
    body_excerpt: str  # scrubbed, truncated response body of a failed call


class SecretBook:
    """The secrets seen so far, and a scrubber that removes them (and secret-shaped strings) from text."""

    def __init__(self, mask: Callable[[str], None]) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self._mask = mask

    def add(self, value: Any) -> None:
        if not isinstance(value, str) or len(value) < _MIN_SECRET_LEN:
            return
        with self._lock:
            if value in self._secrets:
                return
            self._secrets.add(value)
        # Masking must never break credential acquisition.
        with contextlib.suppress(Exception):
            self._mask(value)

    def __contains__(self, value: str) -> bool:
        return value in self._secrets

    def scrub(self, text: object) -> str:
        text = str(text)
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            text = text.replace(secret, REDACTED)
        for pattern in _SECRET_PATTERNS:
            text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
        return text


class GuardedRequest:
    """A ``google.auth.transport.Request`` wrapper; see the module docstring.

    :param inner: the real transport request (e.g. ``google.auth.transport.requests.Request()``).
    :param timeout: per-request timeout, seconds (google-auth's own shorter timeouts are kept).
    :param secrets: where learnt secrets go.
    :param metadata_host: ``host[:port]`` to send ``/computeMetadata/`` requests to, or ``None``.
    :param secret_urls: URLs whose whole response body is a secret (a subject token URL).
    """

    def __init__(
        self,
        inner: Callable[..., Any],
        *,
        timeout: float,
        secrets: SecretBook,
        metadata_host: str | None = None,
        secret_urls: frozenset[str] = frozenset(),
    ) -> None:
        self._inner = inner
        self._timeout = timeout
        self._secrets = secrets
        self._metadata_host = metadata_host
        self._secret_urls = secret_urls
        self.exchanges: list[Exchange] = []

    def _rewrite(self, url: str) -> str:
        if not self._metadata_host:
            return url
        parts = urlsplit(url)
        root = parts.path in ("", "/") and parts.hostname in ("169.254.169.254", "metadata.google.internal")
        if parts.path.startswith("/computeMetadata/") or root:
            return urlunsplit(("http", self._metadata_host, parts.path or "/", parts.query, ""))
        return url

    def _learn_request(self, url: str, body: Any, headers: Any) -> None:
        for name, value in dict(headers or {}).items():
            if str(name).lower() == "authorization" and isinstance(value, str):
                self._secrets.add(value.split(" ", 1)[-1])
        if isinstance(body, bytes):
            with contextlib.suppress(Exception):
                text = body.decode("utf-8")
                if text.startswith("{"):
                    data = json.loads(text)
                    for key in _TOKEN_FIELDS:
                        self._secrets.add(data.get(key))
                else:
                    for key, values in parse_qs(text).items():
                        if key in ("subject_token", "actor_token", "refresh_token", "assertion", "client_secret"):
                            for value in values:
                                self._secrets.add(value)

    def _learn_response(self, url: str, data: Any) -> None:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data or "")
        if url in self._secret_urls:
            self._secrets.add(text.strip())
        with contextlib.suppress(Exception):
            parsed = json.loads(text)
            if isinstance(parsed, dict):
                for key in _TOKEN_FIELDS:
                    self._secrets.add(parsed.get(key))

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Any = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        from google.auth import exceptions as gexc

        url = self._rewrite(url)
        effective = self._timeout if timeout is None else min(float(timeout), self._timeout)
        self._learn_request(url, body, headers)
        safe_url = self._secrets.scrub(url)
        try:
            response = self._inner(url=url, method=method, body=body, headers=headers, timeout=effective, **kwargs)
        except gexc.TransportError as exc:
            # Connection refused / reset / timeout: worth another attempt.
            self.exchanges.append(Exchange(method, safe_url, None, ""))
            raise TransientHTTPError(safe_url, None, self._secrets.scrub(_root_cause(exc, effective))) from None
        status = int(getattr(response, "status", 0) or 0)
        data = getattr(response, "data", b"")
        if 200 <= status < 300:
            self._learn_response(url, data)
            self.exchanges.append(Exchange(method, safe_url, status, ""))
            return response
        excerpt = self._secrets.scrub(_text(data))[:2000]
        self.exchanges.append(Exchange(method, safe_url, status, excerpt))
        if status in RETRYABLE_STATUSES:
            raise TransientHTTPError(safe_url, status, excerpt)
        return response

    @property
    def last_failure(self) -> Exchange | None:
        """The most recent call that did not succeed, if it was the last call made."""
        if self.exchanges and self.exchanges[-1].status not in range(200, 300):
            return self.exchanges[-1]
        return None


def _text(data: Any) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data or "")


def _root_cause(exc: BaseException, timeout: float) -> str:
    # requests' exception text is long and nested; keep the innermost readable reason.
    cause: BaseException | None = exc
    text = str(exc)
    while cause is not None:
        if "timed out" in str(cause).lower() or "timeout" in type(cause).__name__.lower():
            return f"no response within the {timeout:g}s timeout"
        cause = cause.__cause__ or cause.__context__
    return text


def google_error_text(text: str) -> str:
    """Google's error message from a JSON error body, else the text (already scrubbed)."""
    with contextlib.suppress(Exception):
        data = json.loads(text)
        if isinstance(data, dict):
            err = data.get("error")
            if isinstance(err, dict):
                return f"{err.get('status') or err.get('code')}: {err.get('message')}"
            if isinstance(err, str):
                desc = data.get("error_description")
                return f"{err}: {desc}" if desc else err
    return text.strip()


#: Loggers whose DEBUG records carry tokens (google-auth logs request bodies and headers unhashed
#: when its base logger is configured) or full URLs. Not the base ``google`` logger: google-auth
#: decides whether to stop propagation by whether *that* logger is configured, and we must not
#: change its behaviour for the rest of the process.
QUIET_LOGGERS = ("google.auth", "google.oauth2", "urllib3", "requests")
_QUIET_LOCK = threading.Lock()
_quiet_depth = 0
_quiet_saved: dict[str, int] = {}


@contextlib.contextmanager
def quiet_http_debug_logging(level: int = logging.INFO) -> Iterator[None]:
    """Raise the HTTP loggers (and any explicitly configured child of theirs) to at least *level*.

    Levels, not filters: a filter on ``google.auth`` would not see records emitted by
    ``google.auth.transport.requests`` and propagated through it. Re-entrant and thread-safe (the
    first entrant raises, the last one out restores); process-wide while active, so other threads
    lose those DEBUG records for that short window.
    """
    global _quiet_depth
    with _QUIET_LOCK:
        if _quiet_depth == 0:
            _quiet_saved.clear()
            for name, logger in list(logging.Logger.manager.loggerDict.items()):
                if not isinstance(logger, logging.Logger):
                    continue
                if name in QUIET_LOGGERS or (
                    logger.level != logging.NOTSET and any(name.startswith(p + ".") for p in QUIET_LOGGERS)
                ):
                    _quiet_saved[name] = logger.level
            for name in QUIET_LOGGERS:
                _quiet_saved.setdefault(name, logging.getLogger(name).level)
            for name, previous in _quiet_saved.items():
                if previous < level:
                    logging.getLogger(name).setLevel(level)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                for name, previous in _quiet_saved.items():
                    logging.getLogger(name).setLevel(previous)
                _quiet_saved.clear()
