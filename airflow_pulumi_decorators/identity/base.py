"""The abstract :class:`Identity` and the validation helpers every credential source shares.

An identity is a *description* of where a short-lived Google Cloud credential comes from. It is a
frozen, validated dataclass, so a mistake surfaces as a :class:`ConfigurationError` when the DAG file
is parsed; nothing here touches the network, and nothing here imports ``google.auth`` or
``airflow.sdk`` (the DAG processor imports this module on every parse).
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from airflow_pulumi_decorators.errors import ConfigurationError

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

    Subclasses are frozen dataclasses validated in ``__post_init__``. They are turned into engine
    environment variables by :func:`airflow_pulumi_decorators.identity.obtain_engine_credentials` at
    task start; user code normally only constructs them.
    """

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
        from airflow_pulumi_decorators.identity.connection import FromConnection

        return FromConnection(conn_id, kind=cls.__name__)

    def resolve(self) -> Identity:
        """Return the concrete identity to use for this run.

        Identities that need run-time information (an Airflow connection) override this; it is
        called once at task start.
        """
        return self

    def check_runtime(self) -> None:
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

    def __str__(self) -> str:
        return self.describe()


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
