"""The abstract :class:`Identity` and the validation helpers every credential source shares.

An identity is a *description* of where a short-lived Google Cloud credential comes from. It is a
frozen, validated dataclass, so a mistake surfaces as a :class:`ConfigurationError` when the DAG file
is parsed; nothing here touches the network, and nothing here imports ``google.auth`` or
``airflow.sdk`` (the DAG processor imports this module on every parse).
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_pulumi_decorators.errors import ConfigurationError
from airflow_pulumi_decorators.identity.engine_env import CredentialMode, EngineEnv, ImpersonationOnTop

if TYPE_CHECKING:  # pragma: no cover - typing only
    import google.auth.credentials

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
#: The scope every identity asks for unless told otherwise: Pulumi's providers need it.
DEFAULT_SCOPES: tuple[str, ...] = (CLOUD_PLATFORM_SCOPE,)
#: The scope a *source* credential needs to call IAM Credentials ``generateAccessToken``.
IAM_SCOPE = "https://www.googleapis.com/auth/iam"
#: Longest lifetime IAM grants; anything over 3600 s needs the organisation policy
#: ``constraints/iam.allowServiceAccountCredentialLifetimeExtension``.
MAX_LIFETIME_SECONDS = 43200
DEFAULT_LIFETIME_SECONDS = 3600
DEFAULT_UNIVERSE_DOMAIN = "googleapis.com"

# Service accounts (``name@project.iam.gserviceaccount.com``), default compute / App Engine accounts
# (``...@developer.gserviceaccount.com``, ``...@appspot.gserviceaccount.com``) and Google-managed
# agents all end in ``gserviceaccount.com``. A user account can never be impersonated.
_SERVICE_ACCOUNT_EMAIL = re.compile(r"^[a-z0-9][a-z0-9._\-]{0,99}@[a-z0-9][a-z0-9.\-]*\.gserviceaccount\.com$")


class Identity(abc.ABC):
    """Where the engine's short-lived Google Cloud credential comes from.

    Subclasses are frozen dataclasses validated in ``__post_init__``. Each one says what the engine
    runs with (:meth:`engine_env`); :func:`airflow_pulumi_decorators.identity.obtain_engine_credentials`
    obtains the credential at task start and hands it over. User code normally only constructs them.
    """

    # The identity that reads an Airflow connection at task start registers itself here
    # (``class FromConnection(Identity, reads_connection=True)``), so this module never imports it.
    _connection_identity: ClassVar[type[Identity] | None] = None

    def __init_subclass__(cls, *, reads_connection: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if reads_connection:
            Identity._connection_identity = cls

    @abc.abstractmethod
    def describe(self) -> str:
        """A one-line, secret-free description for logs and error messages."""

    @classmethod
    def from_connection(cls, conn_id: str) -> Identity:
        """This kind of identity, described by the Airflow ``google_cloud_platform`` connection ``conn_id``.

        Read when the task starts (never at parse time). The connection must resolve to this kind: e.g.
        ``WorkloadIdentityFederation.from_connection`` needs a ``credential_config_file`` extra,
        ``ServiceAccountImpersonation.from_connection`` an ``impersonation_chain``; with
        ``GkeMetadataServer.from_connection`` a connection without a credential file means the metadata
        server rather than application default credentials.

        :param conn_id: the connection id.
        """
        factory = Identity._connection_identity
        if factory is None:  # pragma: no cover - the package imports identity.connection
            raise ConfigurationError(
                f"{cls.__name__}.from_connection() needs airflow_pulumi_decorators.identity imported."
            )
        return factory(conn_id, kind=cls.__name__)  # type: ignore[call-arg]

    def resolve(self) -> Identity:
        """Return the concrete identity to use for this run.

        Identities that need run-time information (an Airflow connection) override this; it is
        called once at task start.
        """
        return self

    def resolve_with_project(self) -> tuple[Identity, str | None]:
        """:meth:`resolve`, and the default project the identity's source names (an Airflow
        connection's ``project`` extra), else ``None``."""
        return self.resolve(), None

    def check_runtime(self) -> None:  # noqa: B027 - optional hook: most identities have nothing to check
        """Validate what can only be validated on the worker (files that exist only there).

        :raises ConfigurationError: naming the parameter and the fix.
        """

    @abc.abstractmethod
    def google_credentials(self) -> google.auth.credentials.Credentials:
        """Build (but do not refresh) the google-auth credentials for this identity.

        Imports ``google.auth`` lazily. No HTTP request is made here.
        """

    @abc.abstractmethod
    def principal(self, credentials: google.auth.credentials.Credentials) -> str:
        """The principal the refreshed *credentials* act as, for logging. Never a token."""

    def metadata_host_override(self) -> str | None:
        """The metadata server ``host[:port]`` this identity reads, if it reads one and it is not
        Google's default; used to point google-auth at it at call time (see ``GkeMetadataServer``)."""
        return None

    def secret_urls(self) -> frozenset[str]:
        """URLs whose response bodies are secrets (a federated subject token URL)."""
        return frozenset()

    # -- the hand-off to the engine -------------------------------------------------------------

    def engine_env(self, mode: CredentialMode, *, token: str) -> EngineEnv:
        """What the engine runs with in *mode*, *token* being the access token just obtained.

        Token mode hands over *token* alone, whatever the source; refreshable mode is
        :meth:`refreshable_env` (the token is then not handed over).

        :param mode: the credential mode.
        :param token: the access token obtained at task start.
        """
        if CredentialMode(mode) is CredentialMode.TOKEN:
            return EngineEnv.token(token)
        return self.refreshable_env()

    def check_refreshable(
        self, *, read_files: bool = True, impersonated_by: ImpersonationOnTop | None = None
    ) -> None:
        """Refuse, before any request, what refreshable mode cannot hand to the engine.

        Called when an :class:`~airflow_pulumi_decorators.Environment` is built (``read_files=False``:
        some files exist only on workers) and again at task start. Sources that support refreshable
        mode override this.

        :param read_files: also read files the check needs (task start only).
        :param impersonated_by: the impersonation this identity is the source of, if any.
        :raises ConfigurationError: naming ``credential_mode`` and the fix.
        """
        if impersonated_by is not None:
            raise ConfigurationError(
                f"credential_mode='refreshable' cannot hand {impersonated_by.describe()} to the engine; "
                "use credential_mode='token'."
            )
        raise ConfigurationError(
            f"credential_mode='refreshable' does not support {type(self).__name__}; use credential_mode='token'."
        )

    def refreshable_env(self, *, impersonated_by: ImpersonationOnTop | None = None) -> EngineEnv:
        """What the engine needs to refresh this identity's credential itself (refreshable mode).

        Only called after :meth:`check_refreshable` passed.

        :param impersonated_by: the impersonation this identity is the source of, if any: the
            engine must then act as its target.
        :raises ConfigurationError: when it cannot be expressed (as :meth:`check_refreshable`).
        """
        self.check_refreshable(impersonated_by=impersonated_by)
        raise NotImplementedError(f"{type(self).__name__} passes check_refreshable but has no refreshable_env")

    def configured_lifetime(self) -> int | None:
        """The lifetime, in seconds, this identity asks for its token, when it names one; ``None``
        when Google decides (checked against the task's timeout when the DAG is parsed)."""
        return None

    def __str__(self) -> str:
        return self.describe()


# Sources the engine finds by itself in refreshable mode (the worker's ADC, the metadata server) share these.


def check_ambient_refreshable(impersonated_by: ImpersonationOnTop | None) -> None:
    """Refreshable mode for a source the engine finds by itself: only an impersonation on top needs checking.

    :param impersonated_by: the impersonation this identity is the source of, if any.
    :raises ConfigurationError: when that impersonation cannot be handed to the engine.
    """
    if impersonated_by is not None:
        impersonated_by.check_impersonation_variable()


def ambient_refreshable_env(
    env: Mapping[str, str | None], impersonated_by: ImpersonationOnTop | None
) -> EngineEnv:
    """The hand-off of a source the engine finds by itself: *env*, plus the impersonation on top, if any.

    :param env: the variables to set, or remove (``None``).
    :param impersonated_by: the impersonation this identity is the source of, if any.
    """
    handoff = EngineEnv(dict(env))
    return impersonated_by.with_impersonation_variable(handoff) if impersonated_by else handoff


def normalize_scopes(value: Any, *, owner: str, param: str = "scopes") -> tuple[str, ...]:
    """Turn *value* (a string with comma or space separators, or an iterable of strings) into a
    de-duplicated tuple of OAuth scopes.

    :param value: what the user passed.
    :param owner: the class name, for the error message.
    :param param: the parameter name, for the error message.
    :raises ConfigurationError: on an empty or malformed scope list.
    """
    if isinstance(value, str):
        items: Iterable[Any] = re.split(r"[,\s]+", value)
    elif isinstance(value, Iterable):
        items = value
    else:
        raise ConfigurationError(
            f"{owner}({param}=...) must be a list of OAuth scope URLs, got {type(value).__name__}; "
            f"pass e.g. {param}=[{CLOUD_PLATFORM_SCOPE!r}]."
        )
    scopes: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ConfigurationError(
                f"{owner}({param}=...) must contain strings, got {type(item).__name__}; "
                f"pass e.g. {param}=[{CLOUD_PLATFORM_SCOPE!r}]."
            )
        item = item.strip()
        if not item:
            continue
        if not item.startswith("https://"):
            raise ConfigurationError(
                f"{owner}({param}=...) contains {item!r}, which is not an OAuth scope URL; "
                f"scopes look like {CLOUD_PLATFORM_SCOPE!r}."
            )
        if item not in scopes:
            scopes.append(item)
    if not scopes:
        raise ConfigurationError(
            f"{owner}({param}=...) is empty; pass at least one scope, e.g. {param}=[{CLOUD_PLATFORM_SCOPE!r}]."
        )
    return tuple(scopes)


def check_service_account_email(value: Any, *, owner: str, param: str) -> str:
    """Check *value* looks like a service-account e-mail address and return it stripped.

    :raises ConfigurationError: naming *param* and showing the expected shape.
    """
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(
            f"{owner}({param}=...) is required: the e-mail of a service account, e.g. "
            f"'deployer@my-project.iam.gserviceaccount.com'."
        )
    email = value.strip()
    if not _SERVICE_ACCOUNT_EMAIL.match(email.lower()):
        raise ConfigurationError(
            f"{owner}({param}={email!r}) is not a service-account e-mail; expected "
            f"'NAME@PROJECT.iam.gserviceaccount.com' (user accounts cannot be impersonated)."
        )
    return email


def check_url(value: Any, *, owner: str, param: str) -> str:
    """Check *value* is an ``http(s)://`` URL (http is accepted so loopback fakes work).

    :raises ConfigurationError: naming *param*.
    """
    if not isinstance(value, str) or not re.match(r"^https?://[^/\s]+", value.strip()):
        raise ConfigurationError(f"{owner}({param}={value!r}) must be an http(s):// URL.")
    return value.strip().rstrip("/")
