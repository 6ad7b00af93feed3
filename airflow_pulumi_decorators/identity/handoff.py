"""Turn an :class:`Identity` into the environment variables the Pulumi engine runs with.

Two modes:

``token`` (default)
    One short-lived access token, obtained here up front, passed as ``GOOGLE_OAUTH_ACCESS_TOKEN``
    (read first, and never refreshed, by the pulumi-gcp provider, the ``gs://`` state backend and
    ``gcpkms://`` secrets provider). It must outlive the task's time budget.
``refreshable``
    The engine gets what it needs to refresh on its own: a credential *configuration* file (no token
    in it) for federation, nothing for the metadata server, ADC passed through. A token is still
    obtained up front, to fail fast and learn the principal, but it is not handed over.

A value of ``None`` in :attr:`EngineCredentials.env` means "remove this inherited variable".
"""

from __future__ import annotations

import enum
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_pulumi_decorators.errors import ConfigurationError, CredentialLifetimeError, IdentityError
from airflow_pulumi_decorators.identity._transport import (
    GuardedRequest,
    SecretBook,
    TransientHTTPError,
    google_error_text,
    quiet_http_debug_logging,
)
from airflow_pulumi_decorators.identity.adc import ApplicationDefault
from airflow_pulumi_decorators.identity.base import MAX_LIFETIME_SECONDS, Identity
from airflow_pulumi_decorators.identity.connection import FromConnection
from airflow_pulumi_decorators.identity.federation import WorkloadIdentityFederation, impersonation_target
from airflow_pulumi_decorators.identity.impersonation import ServiceAccountImpersonation
from airflow_pulumi_decorators.identity.metadata import GkeMetadataServer

log = logging.getLogger(__name__)


class CredentialMode(str, enum.Enum):
    """How the engine gets its Google credential (see the module docstring)."""

    TOKEN = "token"
    REFRESHABLE = "refreshable"


#: Inherited variables that would override or confuse the credential we hand over, and why. Each is
#: set to ``None`` (removed) in the engine's environment, except the one a mode sets itself.
CREDENTIAL_ENV_VARS: Mapping[str, str] = {
    "GOOGLE_OAUTH_ACCESS_TOKEN": "static token; checked first by pulumi-gcp and the gs:// backend, never refreshed",
    "GOOGLE_CREDENTIALS": "credential JSON; wins over GOOGLE_OAUTH_ACCESS_TOKEN in the gs:// backend and gcpkms://",
    "GOOGLE_CLOUD_KEYFILE_JSON": "pulumi-gcp/Terraform alias of GOOGLE_CREDENTIALS (key files)",
    "GCLOUD_KEYFILE_JSON": "older pulumi-gcp/Terraform alias of GOOGLE_CREDENTIALS (key files)",
    "GOOGLE_APPLICATION_CREDENTIALS": "ADC file; would be used by anything not reading the token (and by refreshable mode)",
    "GOOGLE_IMPERSONATE_SERVICE_ACCOUNT": "pulumi-gcp would impersonate again on top of our credential",
    "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE": "gcloud (called by programs or kubectl auth plugins) would use another token",
    "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE": "gcloud would use another credential file",
    "CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT": "gcloud would impersonate another account",
}
#: Project variables pulumi-gcp reads *before* GOOGLE_CLOUD_PROJECT (GOOGLE_PROJECT) or after it;
#: removed when a project is given so ours is the only one.
OTHER_PROJECT_ENV_VARS = ("GOOGLE_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT")
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
    try:
        mode = CredentialMode(mode)
    except ValueError:
        raise ConfigurationError(f"mode={mode!r} must be 'token' or 'refreshable'.") from None
    if not isinstance(retries, int) or retries < 1:
        raise ConfigurationError(f"retries={retries!r} must be an integer >= 1 (total attempts).")
    if not timeout or timeout <= 0:
        raise ConfigurationError(f"timeout={timeout!r} must be a positive number of seconds.")
    if budget is not None and not isinstance(budget, timedelta):
        raise ConfigurationError(f"budget={budget!r} must be a datetime.timedelta or None.")
    clock = now or (lambda: datetime.now(timezone.utc))

    if isinstance(identity, FromConnection):
        identity, conn_project = identity.resolve_with_project()
        project = project or conn_project
    identity = identity.resolve()
    identity.check_runtime()
    if mode is CredentialMode.REFRESHABLE:
        check_refreshable(identity)  # refuse inexpressible combinations before any HTTP request

    secrets = SecretBook(mask or _default_mask)
    own_request = request is None
    inner = request if request is not None else _default_request()
    total_requests = 0
    try:
        attempt = 0
        while True:
            attempt += 1
            guard = GuardedRequest(
                inner,
                timeout=float(timeout),
                secrets=secrets,
                metadata_host=identity.metadata_host_override(),
                secret_urls=identity.secret_urls(),
            )
            failure: BaseException | None = None
            transient: TransientHTTPError | None = None
            with quiet_http_debug_logging():
                try:
                    creds = identity.google_credentials()
                    creds.refresh(guard)
                except TransientHTTPError as exc:
                    transient = exc
                except ConfigurationError:
                    raise
                except Exception as exc:  # google-auth's RefreshError / OAuthError / ValueError ...
                    failure = exc
            total_requests += len(guard.exchanges)
            if transient is not None:
                if attempt < retries:
                    delay = backoff * (2 ** (attempt - 1))
                    log.warning(
                        "Transient failure obtaining a Google Cloud credential from %s (%s, attempt %d of %d); "
                        "retrying in %.1fs",
                        identity.describe(), _where(transient.endpoint, transient.status), attempt, retries, delay,
                    )
                    sleep(delay)
                    continue
                # Raised outside any except block: no google-auth exception (and its text) is chained.
                raise _identity_error(
                    identity,
                    endpoint=transient.endpoint,
                    status=transient.status,
                    detail=google_error_text(transient.detail),
                    prefix=f"gave up after {attempt} attempt(s)",
                )
            if failure is not None:
                raise _permanent_error(identity, guard, secrets, failure)
            break
    finally:
        if own_request:
            session = getattr(inner, "session", None)
            if session is not None:
                session.close()

    token = creds.token
    if not token:
        raise _identity_error(identity, endpoint=None, status=None, detail="google-auth returned no token", prefix="")
    secrets.add(token)  # masked the moment it came back too; again here in case the response was odd
    expires_at = _aware(creds.expiry)
    principal = identity.principal(creds)

    if mode is CredentialMode.TOKEN:
        _check_budget(identity, principal, expires_at, budget, clock())
        env: dict[str, str | None] = {name: None for name in CREDENTIAL_ENV_VARS}
        env["GOOGLE_OAUTH_ACCESS_TOKEN"] = token
        env.update(_project_env(project))
        result = EngineCredentials(
            env=env, principal=principal, expires_at=expires_at, mode=mode, identity=identity.describe(),
            http_requests=total_requests, attempts=attempt,
        )
    else:
        result = _refreshable(identity, project, temp_root, principal, total_requests, attempt)
    log.info(
        "Obtained a Google Cloud credential for %s from %s (mode %s%s, %d HTTP request(s))",
        principal, identity.describe(), mode.value,
        f", expires {expires_at:%Y-%m-%d %H:%M:%S}Z" if result.expires_at else "", total_requests,
    )
    return result


# -- refreshable mode -------------------------------------------------------------------------------


def check_refreshable(identity: Identity, *, read_files: bool = True) -> None:
    """Refuse an identity that cannot be handed to the engine in refreshable mode.

    Called when an :class:`~airflow_pulumi_decorators.Environment` is built (``read_files=False``: a
    credential configuration *file* exists only on workers) and again at task start.

    :param identity: the environment's identity.
    :param read_files: also read a ``credential_config_file`` (task start only).
    :raises ConfigurationError: naming ``credential_mode`` and the fix.
    """
    if isinstance(identity, FromConnection):
        return  # what the connection describes is known at task start
    if isinstance(identity, ServiceAccountImpersonation):
        source = identity.source
        if isinstance(source, FromConnection):
            return
        if isinstance(source, WorkloadIdentityFederation):
            if identity.delegates:
                raise ConfigurationError(
                    f"credential_mode='refreshable' cannot express delegates {list(identity.delegates)} after workload identity "
                    f"federation (a credential configuration has no delegates field). Grant the federated principal "
                    f"roles/iam.serviceAccountTokenCreator on {identity.target_principal} directly, or use credential_mode='token'."
                )
            if not read_files and source.credential_config is None:
                return
            if source.load_config().get("service_account_impersonation_url"):
                raise ConfigurationError(
                    "credential_mode='refreshable' cannot express impersonation on top of a credential configuration that already "
                    "impersonates; put the final service account in the configuration's "
                    "service_account_impersonation_url, or use credential_mode='token'."
                )
        elif isinstance(source, (GkeMetadataServer, ApplicationDefault)):
            if identity.delegates:
                raise ConfigurationError(
                    f"credential_mode='refreshable' passes impersonation to the engine as GOOGLE_IMPERSONATE_SERVICE_ACCOUNT, which "
                    f"has no delegates; remove delegates {list(identity.delegates)} or use credential_mode='token'."
                )
        else:
            raise ConfigurationError(
                f"credential_mode='refreshable' cannot hand {identity.describe()} to the engine; use credential_mode='token'."
            )
    elif not isinstance(identity, (WorkloadIdentityFederation, GkeMetadataServer, ApplicationDefault)):
        raise ConfigurationError(f"credential_mode='refreshable' does not support {type(identity).__name__}; use credential_mode='token'.")


def configured_lifetime(identity: Identity) -> int | None:
    """The lifetime, in seconds, the identity asks for its token, when it names one (impersonation).

    :param identity: any identity; ``None`` for those whose token lifetime Google decides.
    """
    if isinstance(identity, ServiceAccountImpersonation):
        return int(identity.lifetime)
    if isinstance(identity, WorkloadIdentityFederation) and identity.credential_config is not None:
        info = identity.credential_config
        if info.get("service_account_impersonation_url"):
            options = info.get("service_account_impersonation") or {}
            return int(options.get("token_lifetime_seconds") or 3600)
    return None


def check_lifetime_covers(identity: Identity, budget: timedelta | None, *, task_id: str = "") -> None:
    """Refuse, when the DAG is parsed, a token mode identity whose configured lifetime cannot outlive the task.

    The same rule :func:`obtain_engine_credentials` applies at task start (the token must outlive the
    budget by :data:`LIFETIME_MARGIN`), for the lifetimes known in advance.

    :param identity: the environment's identity (token mode).
    :param budget: the task's ``execution_timeout``.
    :param task_id: named in the message.
    :raises CredentialLifetimeError: naming the lifetime, the timeout and the fixes.
    """
    lifetime = configured_lifetime(identity)
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
        f"policy constraints/iam.allowServiceAccountCredentialLifetimeExtension must allow it), lower execution_timeout, "
        f"or use Environment(credential_mode='refreshable').",
        identity=identity.describe(),
        detail=f"lifetime={lifetime}s budget={budget}",
    )


def _refreshable(
    identity: Identity, project: str | None, temp_root: Any, principal: str, requests: int, attempts: int
) -> EngineCredentials:
    env: dict[str, str | None] = {name: None for name in CREDENTIAL_ENV_VARS}
    config: dict[str, Any] | None = None
    if isinstance(identity, WorkloadIdentityFederation):
        config = identity.load_config()
    elif isinstance(identity, ServiceAccountImpersonation) and isinstance(identity.source, WorkloadIdentityFederation):
        config = identity.source.load_config()
        config["service_account_impersonation_url"] = identity.generate_access_token_url
        config["service_account_impersonation"] = {"token_lifetime_seconds": min(identity.lifetime, MAX_LIFETIME_SECONDS)}
    elif isinstance(identity, ServiceAccountImpersonation):
        # Over the metadata server or ADC. Trade-off (documented): pulumi-gcp honours this variable, the
        # gs:// state backend and gcpkms:// secrets provider do not and act as the source principal.
        env["GOOGLE_IMPERSONATE_SERVICE_ACCOUNT"] = identity.target_principal
        log.warning(
            "Refreshable mode: pulumi-gcp resources will be managed as %s (GOOGLE_IMPERSONATE_SERVICE_ACCOUNT), "
            "but a gs:// state backend and gcpkms:// secrets are accessed as the source identity (%s).",
            identity.target_principal, identity.source.describe() if identity.source else "?",
        )
        if isinstance(identity.source, ApplicationDefault):
            env.pop("GOOGLE_APPLICATION_CREDENTIALS")  # ADC passes through
        _metadata_host_env(identity.source, env)
    elif isinstance(identity, ApplicationDefault):
        env.pop("GOOGLE_APPLICATION_CREDENTIALS")  # pass through whatever ADC the worker has
        _metadata_host_env(identity, env)
    elif isinstance(identity, GkeMetadataServer):
        _metadata_host_env(identity, env)  # GOOGLE_APPLICATION_CREDENTIALS removed: ADC falls to metadata
    env.update(_project_env(project))

    temp_dir = path = None
    if config is not None:
        temp_dir, path = _write_private_json(config, temp_root)
        env["GOOGLE_APPLICATION_CREDENTIALS"] = path
    return EngineCredentials(
        env=env, principal=principal, expires_at=None, mode=CredentialMode.REFRESHABLE, identity=identity.describe(),
        http_requests=requests, attempts=attempts, credentials_file=path, _temp_dir=temp_dir,
    )


def _metadata_host_env(identity: Identity, env: dict[str, str | None]) -> None:
    host = identity.metadata_host_override()
    if host:
        env["GCE_METADATA_HOST"] = host  # the engine's Go metadata client reads it too


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


def _project_env(project: str | None) -> dict[str, str | None]:
    if not project:
        return {}
    env: dict[str, str | None] = {name: None for name in OTHER_PROJECT_ENV_VARS}
    env["GOOGLE_CLOUD_PROJECT"] = project
    return env


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
        f"allow it), shorten the task's execution_timeout, or use Environment(credential_mode='refreshable') so the engine refreshes its "
        f"own credential.",
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


def _permanent_error(identity: Identity, guard: GuardedRequest, secrets: SecretBook, exc: BaseException) -> IdentityError:
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
