"""Hand an :class:`Identity`'s credential to the Pulumi engine: the orchestration, for every source.

Obtain the token once (bounded retries, per-request timeout, every secret masked the moment it is
seen), check it outlives the task's budget (token mode), ask the identity what the engine runs with
(:meth:`Identity.engine_env`, per source), add the project, write a credential configuration to a
private temp file when there is one, and translate google-auth's errors into :class:`IdentityError`
here and nowhere else. The modes are described on :class:`CredentialMode`.

A value of ``None`` in :attr:`EngineCredentials.env` means "remove this inherited variable".
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

from airflow_pulumi_decorators.errors import ConfigurationError, CredentialLifetimeError, IdentityError
from airflow_pulumi_decorators.identity._transport import (
    GuardedRequest,
    SecretBook,
    TransientHTTPError,
    google_error_text,
    quiet_http_debug_logging,
)
from airflow_pulumi_decorators.identity.base import MAX_LIFETIME_SECONDS, Identity
from airflow_pulumi_decorators.identity.engine_env import (  # noqa: F401 - re-exported for callers of this module
    CREDENTIAL_ENV_VARS,
    OTHER_PROJECT_ENV_VARS,
    CredentialMode,
    project_env,
)
from airflow_pulumi_decorators.identity.federation import impersonation_target

log = logging.getLogger(__name__)

#: Extra time a token must outlive the task's budget by (google-auth itself treats a token as stale
#: 3 min 45 s before it expires; the engine also needs a moment to stop).
LIFETIME_MARGIN = timedelta(minutes=5)
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_ATTEMPTS = 3
_CONFIG_FILE_NAME = "gcp-credential-config.json"


@dataclass(eq=False)
class EngineCredentials:
    """What the engine runs with; a context manager whose :meth:`close` removes any temp file.

    :ivar env: variables to set (``str``) or remove from the inherited environment (``None``).
    :ivar principal: the account (or federated principal) the engine acts as; for logs.
    :ivar expires_at: when the handed-over token expires (token mode); ``None`` in refreshable mode.
    :ivar mode: the mode used.
    :ivar identity: the identity's description.
    :ivar http_requests: HTTP round trips made to obtain the credential (all attempts).
    :ivar attempts: attempts made (1 unless transient failures were retried).
    :ivar credentials_file: the 0600 credential configuration file (refreshable federation) or ``None``.
    """

    env: dict[str, str | None] = field(repr=False)
    principal: str
    expires_at: datetime | None
    mode: CredentialMode
    identity: str = ""
    http_requests: int = 0
    attempts: int = 1
    credentials_file: str | None = None
    _temp_dir: str | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _closed: bool = field(default=False, repr=False)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Remove the temporary directory, if any. Idempotent; safe from another thread (on_kill)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            temp_dir, self._temp_dir = self._temp_dir, None
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)

    def __enter__(self) -> EngineCredentials:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def apply_to(self, base: Mapping[str, str]) -> dict[str, str]:
        """*base* (e.g. ``os.environ``) with :attr:`env` applied: set or removed."""
        merged = dict(base)
        for name, value in self.env.items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        return merged


def obtain_engine_credentials(
    identity: Identity,
    *,
    project: str | None = None,
    mode: CredentialMode | str = CredentialMode.TOKEN,
    budget: timedelta | None = None,
    request: Callable[..., Any] | None = None,
    mask: Callable[[str], None] | None = None,
    temp_root: str | os.PathLike[str] | None = None,
    retries: int = DEFAULT_ATTEMPTS,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] | None = None,
) -> EngineCredentials:
    """Obtain a credential for *identity* and describe how the engine should use it.

    :param identity: any identity; a :class:`FromConnection` is resolved here (its ``project`` extra
        is used when *project* is not given).
    :param project: sets ``GOOGLE_CLOUD_PROJECT`` (and removes the other project variables).
    :param mode: ``"token"`` or ``"refreshable"``.
    :param budget: the task's time budget (e.g. its ``execution_timeout``); token mode checks the
        token outlives it by :data:`LIFETIME_MARGIN`.
    :param request: a ``google.auth.transport.Request`` to use (default: a fresh
        ``google.auth.transport.requests.Request``, closed afterwards).
    :param mask: called with every token and subject token the moment it is seen (default:
        ``airflow.sdk.log.mask_secret`` when running inside Airflow, else nothing).
    :param temp_root: parent directory of the private temp dir (refreshable federation).
    :param retries: total attempts for transient failures (5xx, 429, 408, timeouts, resets).
    :param timeout: per-request timeout, seconds.
    :param backoff: first retry delay, seconds; doubled each retry.
    :param sleep: injectable sleep.
    :param now: injectable clock returning an aware UTC datetime.
    :raises ConfigurationError: unusable configuration (nothing was requested, or the connection is unknown).
    :raises CredentialLifetimeError: token mode, the token expires before *budget* ends.
    :raises IdentityError: the credential could not be obtained; names the identity, endpoint, status.
    """
    mode = _checked_mode(mode, retries=retries, timeout=timeout, budget=budget)
    identity, project = _resolve_for_run(identity, project, mode)
    secrets = SecretBook(mask or _default_mask)
    policy = _RetryPolicy(attempts=retries, timeout=float(timeout), backoff=backoff, sleep=sleep)
    with _transport(request) as inner:
        refreshed = _refresh_with_retries(identity, inner, secrets, policy)
    creds = refreshed.credentials
    token = _token_of(identity, creds, secrets)
    expires_at = _aware(creds.expiry)
    principal = identity.principal(creds)
    if mode is CredentialMode.TOKEN:
        _check_budget(identity, principal, expires_at, budget, (now or _utc_now)())
    else:
        expires_at = None  # the token is not handed over: the engine refreshes its own
    handoff = _engine_handoff(identity, mode, token, project=project, temp_root=temp_root)
    result = EngineCredentials(
        env=handoff.env, principal=principal, expires_at=expires_at, mode=mode, identity=identity.describe(),
        http_requests=refreshed.http_requests, attempts=refreshed.attempts, credentials_file=handoff.path,
        _temp_dir=handoff.temp_dir,
    )
    log.info(
        "Obtained a Google Cloud credential for %s from %s (mode %s%s, %d HTTP request(s))",
        principal, identity.describe(), mode.value,
        f", expires {expires_at:%Y-%m-%d %H:%M:%S}Z" if result.expires_at else "", refreshed.http_requests,
    )
    return result


# -- the steps of obtain_engine_credentials -------------------------------------------------------------


def _checked_mode(
    mode: CredentialMode | str, *, retries: int, timeout: float, budget: timedelta | None
) -> CredentialMode:
    """*mode* parsed, once the call's other arguments are known to be usable.

    :raises ConfigurationError: naming the argument.
    """
    mode = CredentialMode.parse(mode, param="mode")
    if not isinstance(retries, int) or retries < 1:
        raise ConfigurationError(f"retries={retries!r} must be an integer >= 1 (total attempts).")
    if not timeout or timeout <= 0:
        raise ConfigurationError(f"timeout={timeout!r} must be a positive number of seconds.")
    if budget is not None and not isinstance(budget, timedelta):
        raise ConfigurationError(f"budget={budget!r} must be a datetime.timedelta or None.")
    return mode


def _resolve_for_run(identity: Identity, project: str | None, mode: CredentialMode) -> tuple[Identity, str | None]:
    """The concrete identity for this run and its project (*project*, else the identity's default), checked
    as far as it can be before any request.

    :raises ConfigurationError: what only the worker can check, or what *mode* cannot hand over.
    """
    identity, default_project = identity.resolve_with_project()
    identity.check_runtime()
    if mode is CredentialMode.REFRESHABLE:
        identity.check_refreshable()  # refuse inexpressible combinations before any HTTP request
    return identity, project or default_project


@contextlib.contextmanager
def _transport(request: Callable[..., Any] | None) -> Iterator[Callable[..., Any]]:
    """*request*, or a fresh google-auth transport whose session is closed afterwards."""
    if request is not None:
        yield request
        return
    own = _default_request()
    try:
        yield own
    finally:
        session = getattr(own, "session", None)
        if session is not None:
            session.close()


@dataclass(frozen=True)
class _RetryPolicy:
    """Total attempts, per-request timeout, first retry delay (doubled each retry) and the sleep to wait with."""

    attempts: int
    timeout: float
    backoff: float
    sleep: Callable[[float], None]


class _Refreshed(NamedTuple):
    credentials: Any
    attempts: int
    http_requests: int


class _Attempt(NamedTuple):
    """One refresh: the credentials, or what went wrong (*transient* is retried, *failure* is not)."""

    guard: GuardedRequest
    credentials: Any = None
    transient: TransientHTTPError | None = None
    failure: BaseException | None = None


def _refresh_with_retries(
    identity: Identity, inner: Callable[..., Any], secrets: SecretBook, policy: _RetryPolicy
) -> _Refreshed:
    """Refresh *identity*'s google-auth credentials, retrying transient failures.

    :raises IdentityError: a permanent failure, or transient ones on every attempt.
    """
    attempt = http_requests = 0
    while True:
        attempt += 1
        outcome = _refresh_once(identity, inner, secrets, policy.timeout)
        http_requests += len(outcome.guard.exchanges)
        # Errors are raised here, outside any except block: no google-auth exception (and its text) is chained.
        if outcome.failure is not None:
            raise _permanent_error(identity, outcome.guard, secrets, outcome.failure)
        if outcome.transient is None:
            return _Refreshed(outcome.credentials, attempt, http_requests)
        transient = outcome.transient
        if attempt >= policy.attempts:
            raise _identity_error(
                identity,
                endpoint=transient.endpoint,
                status=transient.status,
                detail=google_error_text(transient.detail),
                prefix=f"gave up after {attempt} attempt(s)",
            )
        delay = policy.backoff * (2 ** (attempt - 1))
        log.warning(
            "Transient failure obtaining a Google Cloud credential from %s (%s, attempt %d of %d); retrying in %.1fs",
            identity.describe(), _where(transient.endpoint, transient.status), attempt, policy.attempts, delay,
        )
        policy.sleep(delay)


def _refresh_once(identity: Identity, inner: Callable[..., Any], secrets: SecretBook, timeout: float) -> _Attempt:
    guard = GuardedRequest(
        inner,
        timeout=timeout,
        secrets=secrets,
        metadata_host=identity.metadata_host_override(),
        secret_urls=identity.secret_urls(),
    )
    with quiet_http_debug_logging():
        try:
            creds = identity.google_credentials()
            creds.refresh(guard)
        except TransientHTTPError as exc:
            return _Attempt(guard, transient=exc)
        except ConfigurationError:
            raise
        except Exception as exc:  # google-auth's RefreshError / OAuthError / ValueError ...
            return _Attempt(guard, failure=exc)
    return _Attempt(guard, credentials=creds)


def _token_of(identity: Identity, creds: Any, secrets: SecretBook) -> str:
    token: str | None = creds.token
    if not token:
        raise _identity_error(identity, endpoint=None, status=None, detail="google-auth returned no token", prefix="")
    secrets.add(token)  # masked the moment it came back too; again here in case the response was odd
    return token


class _Handoff(NamedTuple):
    env: dict[str, str | None]
    temp_dir: str | None
    path: str | None


def _engine_handoff(
    identity: Identity, mode: CredentialMode, token: str, *, project: str | None, temp_root: Any
) -> _Handoff:
    """What the engine runs with: the identity's hand-off for *mode*, the project, and any credential
    configuration written to a private file (named by ``GOOGLE_APPLICATION_CREDENTIALS``)."""
    handoff = identity.engine_env(mode, token=token)
    if handoff.notice:
        log.warning("%s", handoff.notice)
    env = {**handoff.env, **project_env(project)}
    if handoff.credential_config is None:
        return _Handoff(env, None, None)
    temp_dir, path = _write_private_json(handoff.credential_config, temp_root)
    env["GOOGLE_APPLICATION_CREDENTIALS"] = path
    return _Handoff(env, temp_dir, path)


# -- checks made before the task runs ------------------------------------------------------------------


def check_refreshable(identity: Identity, *, read_files: bool = True) -> None:
    """Refuse an identity that cannot be handed to the engine in refreshable mode (see
    :meth:`Identity.check_refreshable`, which each source implements).

    :param identity: the environment's identity.
    :param read_files: also read a ``credential_config_file`` (task start only).
    :raises ConfigurationError: naming ``credential_mode`` and the fix.
    """
    if not isinstance(identity, Identity):
        raise ConfigurationError(
            f"credential_mode='refreshable' does not support {type(identity).__name__}; use credential_mode='token'."
        )
    identity.check_refreshable(read_files=read_files)


def check_lifetime_covers(identity: Identity, budget: timedelta | None, *, task_id: str = "") -> None:
    """Refuse, when the DAG is parsed, a token mode identity whose configured lifetime cannot outlive the task.

    The same rule :func:`obtain_engine_credentials` applies at task start (the token must outlive the
    budget by :data:`LIFETIME_MARGIN`), for the lifetimes known in advance.

    :param identity: the environment's identity (token mode).
    :param budget: the task's ``execution_timeout``.
    :param task_id: named in the message.
    :raises CredentialLifetimeError: naming the lifetime, the timeout and the fixes.
    """
    lifetime = identity.configured_lifetime() if isinstance(identity, Identity) else None
    if budget is None or lifetime is None:
        return
    needed = budget + LIFETIME_MARGIN
    if lifetime >= needed.total_seconds():
        return
    raise CredentialLifetimeError(
        f"task {task_id!r}: its token from {identity.describe()} lives {lifetime}s, less than the task's "
        f"execution_timeout of {int(budget.total_seconds())}s plus a {int(LIFETIME_MARGIN.total_seconds())}s margin "
        f"(the engine could lose its credential mid-update). Raise the lifetime (ServiceAccountImpersonation("
        f"lifetime={int(needed.total_seconds())}) or more, up to {MAX_LIFETIME_SECONDS}; above 3600s the organisation "
        f"policy constraints/iam.allowServiceAccountCredentialLifetimeExtension must allow it), lower "
        f"execution_timeout, "
        f"or use Environment(credential_mode='refreshable').",
        identity=identity.describe(),
        detail=f"lifetime={lifetime}s budget={budget}",
    )


def _write_private_json(data: Mapping[str, Any], temp_root: Any) -> tuple[str, str]:
    """Write *data* to a 0600 file inside a fresh 0700 directory; return ``(dir, file)``."""
    if temp_root is not None:
        os.makedirs(temp_root, exist_ok=True)
    temp_dir = tempfile.mkdtemp(prefix="airflow-pulumi-gcp-", dir=temp_root)  # created 0700
    try:
        os.chmod(temp_dir, 0o700)
        path = os.path.join(temp_dir, _CONFIG_FILE_NAME)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)  # whatever the umask
            json.dump(data, handle, indent=2, sort_keys=True)
    except BaseException:
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    return temp_dir, path


# -- helpers ----------------------------------------------------------------------------------------


def _check_budget(
    identity: Identity, principal: str, expires_at: datetime | None, budget: timedelta | None, now: datetime
) -> None:
    if budget is None or expires_at is None:
        return
    needed = now + budget + LIFETIME_MARGIN
    if expires_at >= needed:
        return
    left = max(0, int((expires_at - now).total_seconds()))
    raise CredentialLifetimeError(
        f"The Google Cloud token for {principal} (from {identity.describe()}) expires in {left}s, before the task's "
        f"time budget of {int(budget.total_seconds())}s plus a {int(LIFETIME_MARGIN.total_seconds())}s margin ends. "
        f"Ask for a longer lifetime with ServiceAccountImpersonation(lifetime=...) (up to {MAX_LIFETIME_SECONDS}s; "
        f"above 3600s the organisation policy constraints/iam.allowServiceAccountCredentialLifetimeExtension must "
        f"allow it), shorten the task's execution_timeout, or use Environment(credential_mode='refreshable') so "
        f"the engine refreshes its own credential.",
        identity=identity.describe(),
        detail=f"expires_at={expires_at.isoformat()} budget={budget}",
    )


def _where(endpoint: str | None, status: int | None) -> str:
    parts = []
    if endpoint:
        parts.append(endpoint)
    parts.append(f"HTTP {status}" if status else "no HTTP response")
    return ", ".join(parts)


def _hint(identity: Identity, endpoint: str | None, status: int | None) -> str:
    url = endpoint or ""
    if ":generateAccessToken" in url and status in (401, 403):
        target = impersonation_target(url.split("?")[0]) or "the target"
        return (
            f" Grant the source principal roles/iam.serviceAccountTokenCreator on {target} (and on each delegate), "
            f"and enable iamcredentials.googleapis.com."
        )
    if ":generateAccessToken" in url and status == 400:
        return " A lifetime over 3600s needs constraints/iam.allowServiceAccountCredentialLifetimeExtension."
    if "/token" in url and "computeMetadata" not in url and status in (400, 401, 403):
        return (
            " Check the pool provider (audience), its attribute condition, and that the subject token is "
            "current and issued for that audience."
        )
    if "computeMetadata" in url and status is None:
        return (
            " No metadata server answered, so this worker is not a GKE pod with Workload Identity (nor a Compute "
            "Engine VM). Off Google Cloud use WorkloadIdentityFederation(...), or ApplicationDefault() for local "
            "development; to test GkeMetadataServer, point GkeMetadataServer(metadata_host=...) (or "
            "GCE_METADATA_HOST) at airflow_pulumi_decorators.testing.FakeGoogleTokenServer."
        )
    if "computeMetadata" in url and status in (403, 404):
        return (
            " Check Workload Identity is enabled on the node pool and the Kubernetes service account is annotated "
            "with iam.gke.io/gcp-service-account."
        )
    return ""


def _identity_error(
    identity: Identity, *, endpoint: str | None, status: int | None, detail: str, prefix: str
) -> IdentityError:
    lead = f"Could not obtain a Google Cloud credential from {identity.describe()}"
    if prefix:
        lead += f" ({prefix})"
    where = f" [{_where(endpoint, status)}]" if endpoint or status else ""
    return IdentityError(
        f"{lead}{where}: {detail}.{_hint(identity, endpoint, status)}",
        identity=identity.describe(),
        endpoint=endpoint,
        status=status,
        detail=detail,
    )


def _permanent_error(
    identity: Identity, guard: GuardedRequest, secrets: SecretBook, exc: BaseException
) -> IdentityError:
    failed = guard.last_failure
    if failed is not None and failed.status is not None:
        detail = google_error_text(failed.body_excerpt) or secrets.scrub(exc)
        return _identity_error(identity, endpoint=failed.url, status=failed.status, detail=detail, prefix="")
    # No HTTP failure: e.g. the subject token file is missing, or a malformed response.
    text = secrets.scrub(f"{type(exc).__name__}: {_exception_text(exc)}")
    return _identity_error(identity, endpoint=None, status=None, detail=text, prefix="")


def _exception_text(exc: BaseException) -> str:
    # google-auth errors carry (message, response_body); the message alone is enough and safer.
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], str):
        return args[0]
    return str(exc)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    # google-auth keeps expiry as naive UTC.
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _default_request() -> Any:
    import google.auth.transport.requests

    return google.auth.transport.requests.Request()


def _default_mask(value: str) -> None:
    # Only inside Airflow (where airflow.sdk is already imported) is there a masker to tell; importing
    # airflow.sdk just for this would cost seconds and configure Airflow as a side effect.
    if "airflow.sdk" not in sys.modules:
        return
    try:
        from airflow.sdk.log import mask_secret
    except Exception:
        return
    mask_secret(value)
