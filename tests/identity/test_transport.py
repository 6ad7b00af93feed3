"""The HTTP seam between google-auth and Google (:mod:`airflow_pulumi_decorators.identity._transport`), with a
fake inner transport: timeouts, the metadata host, secrets learnt and scrubbed, transient failures."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest
from google.auth import exceptions as gexc

from airflow_pulumi_decorators.identity._transport import (
    REDACTED,
    GuardedRequest,
    SecretBook,
    TransientHTTPError,
    google_error_text,
    quiet_http_debug_logging,
)

TOKEN = "ya29.issued-access-token-5c1d"
SUBJECT = "subject-token-value-90ab"


class Inner:
    """A transport that answers from a list and records what it was asked."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls: list[dict] = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        status, data = answer
        return SimpleNamespace(status=status, data=data.encode() if isinstance(data, str) else data)


def test_secret_book_learns_long_strings_once_and_masks_them():
    masked: list[str] = []
    book = SecretBook(masked.append)
    for value in ("short", None, 12345678, "a-long-secret-01", "a-long-secret-01"):
        book.add(value)
    assert masked == ["a-long-secret-01"]
    assert "a-long-secret-01" in book and "short" not in book


def test_a_failing_mask_does_not_stop_learning():
    def broken(_):
        raise RuntimeError("mask down")

    book = SecretBook(broken)
    book.add("a-long-secret-02")
    assert book.scrub("x a-long-secret-02 y") == f"x {REDACTED} y"


def test_scrub_removes_learnt_secrets_and_secret_shaped_text():
    book = SecretBook(lambda _: None)
    book.add("plain-learnt-secret")
    text = ('plain-learnt-secret; Authorization: Bearer abc.def-ghi; {"access_token": "tok-123"}; '
            "ya29.A0Afoo; eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl")
    scrubbed = book.scrub(text)
    for secret in ("plain-learnt-secret", "abc.def-ghi", "tok-123", "ya29.A0Afoo", "eyJhbGciOi"):
        assert secret not in scrubbed
    assert scrubbed.startswith(f"{REDACTED}; Authorization: Bearer {REDACTED}")


def test_timeout_is_ours_unless_google_auth_asks_for_less_and_metadata_goes_to_the_chosen_host():
    inner = Inner((200, "{}"), (200, "{}"), (200, "{}"))
    guard = GuardedRequest(inner, timeout=5, secrets=SecretBook(lambda _: None), metadata_host="127.0.0.1:8099")
    guard("https://sts.googleapis.com/v1/token", method="POST", timeout=120)
    guard("http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token?x=1",
          timeout=2)
    guard("https://iamcredentials.googleapis.com/v1/x")
    assert [c["timeout"] for c in inner.calls] == [5, 2, 5]
    assert inner.calls[1]["url"] == (
        "http://127.0.0.1:8099/computeMetadata/v1/instance/service-accounts/default/token?x=1")
    assert inner.calls[2]["url"] == "https://iamcredentials.googleapis.com/v1/x"


def test_tokens_crossing_the_guard_are_learnt_masked_and_scrubbed_from_later_errors():
    masked: list[str] = []
    inner = Inner((200, json.dumps({"access_token": TOKEN})),
                  (403, json.dumps({"error": {"message": f"token {TOKEN} and {SUBJECT} refused"}})))
    guard = GuardedRequest(inner, timeout=5, secrets=SecretBook(masked.append))
    guard("https://sts.googleapis.com/v1/token", method="POST", body=f"subject_token={SUBJECT}&x=y".encode())
    response = guard("https://iam/x", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 403  # not transient: google-auth reads the error itself
    assert set(masked) == {SUBJECT, TOKEN}
    failure = guard.last_failure
    assert failure.status == 403 and TOKEN not in failure.body_excerpt and SUBJECT not in failure.body_excerpt
    assert [(e.method, e.status) for e in guard.exchanges] == [("POST", 200), ("GET", 403)]


def test_the_whole_body_of_a_secret_url_is_a_secret():
    book = SecretBook(lambda _: None)
    guard = GuardedRequest(Inner((200, SUBJECT + "\n")), timeout=5, secrets=book,
                           secret_urls=frozenset({"http://127.0.0.1/token"}))
    guard("http://127.0.0.1/token")
    assert SUBJECT in book


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses_become_transient_errors(status):
    guard = GuardedRequest(Inner((status, "busy")), timeout=5, secrets=SecretBook(lambda _: None))
    with pytest.raises(TransientHTTPError) as caught:
        guard("https://sts.googleapis.com/v1/token")
    assert (caught.value.status, caught.value.endpoint, caught.value.detail) == (
        status, "https://sts.googleapis.com/v1/token", "busy")
    assert not isinstance(caught.value, gexc.GoogleAuthError)  # escapes google-auth's own retry loop


def test_connection_failures_and_timeouts_are_transient_with_a_readable_reason():
    timeout = gexc.TransportError("HTTPSConnectionPool(...): Read timed out. (read timeout=5)")
    refused = gexc.TransportError("connection refused")
    refused.__cause__ = ConnectionRefusedError("[Errno 111] Connection refused")
    guard = GuardedRequest(Inner(timeout, refused), timeout=5, secrets=SecretBook(lambda _: None))
    with pytest.raises(TransientHTTPError, match="no response within the 5s timeout") as caught:
        guard("https://sts.googleapis.com/v1/token")
    assert caught.value.status is None
    with pytest.raises(TransientHTTPError, match="connection refused"):
        guard("https://sts.googleapis.com/v1/token")
    assert guard.last_failure.status is None
    guard._inner = Inner((200, "{}"))
    guard("https://sts.googleapis.com/v1/token")
    assert guard.last_failure is None


def test_google_error_text_reads_both_error_shapes():
    assert google_error_text(json.dumps({"error": {"status": "PERMISSION_DENIED", "message": "no"}})) == (
        "PERMISSION_DENIED: no")
    assert google_error_text(json.dumps({"error": {"code": 403, "message": "no"}})) == "403: no"
    assert google_error_text(json.dumps({"error": "invalid_grant", "error_description": "expired"})) == (
        "invalid_grant: expired")
    assert google_error_text(json.dumps({"error": "invalid_grant"})) == "invalid_grant"
    assert google_error_text("  <html>Bad gateway</html>\n") == "<html>Bad gateway</html>"


def test_quiet_logging_raises_the_http_loggers_while_active_and_restores_them():
    auth, child = logging.getLogger("google.auth"), logging.getLogger("urllib3.connectionpool")
    other = logging.getLogger("apd.unrelated")
    saved = auth.level, child.level, other.level
    auth.setLevel(logging.DEBUG)
    child.setLevel(logging.DEBUG)
    other.setLevel(logging.DEBUG)
    try:
        with quiet_http_debug_logging():
            with quiet_http_debug_logging():  # re-entrant
                assert auth.level == child.level == logging.INFO
            assert auth.level == logging.INFO  # the outer one still holds it
            assert other.level == logging.DEBUG
        assert auth.level == child.level == logging.DEBUG
    finally:
        auth.setLevel(saved[0])
        child.setLevel(saved[1])
        other.setLevel(saved[2])
