"""What an identity hands the Pulumi engine: the credential modes and the environment it gets.

Each identity class says, through :meth:`Identity.engine_env
<airflow_pulumi_decorators.identity.Identity.engine_env>`, which variables the engine runs with in
each mode; :func:`~airflow_pulumi_decorators.identity.obtain_engine_credentials` obtains the token,
adds the project and writes any credential configuration to a private file.

This module imports no other identity module (the identity classes import it).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from airflow_pulumi_decorators.errors import ConfigurationError


class CredentialMode(str, enum.Enum):
    """How the engine gets its Google credential. Users may pass the plain strings.

    ``token`` (default)
        One short-lived access token, obtained at task start, passed as ``GOOGLE_OAUTH_ACCESS_TOKEN``
        (read first, and never refreshed, by the pulumi-gcp provider, the ``gs://`` state backend and
        ``gcpkms://`` secrets provider). It must outlive the task's time budget.
    ``refreshable``
        The engine gets what it needs to refresh on its own: a credential *configuration* file (no
        token in it) for federation, nothing for the metadata server, ADC passed through. A token is
        still obtained up front, to fail fast and learn the principal, but it is not handed over.
    """

    TOKEN = "token"
    REFRESHABLE = "refreshable"

    @classmethod
    def parse(cls, value: Any, *, param: str = "credential_mode") -> CredentialMode:
        """*value* (a :class:`CredentialMode` or its plain string) as a :class:`CredentialMode`.

        :param value: what the user passed.
        :param param: the parameter name, for the error message.
        :raises ConfigurationError: naming *param* and the accepted values.
        """
        try:
            return cls(value)
        except ValueError:
            raise ConfigurationError(f"{param}={value!r} must be 'token' or 'refreshable'.") from None


#: The accepted ``credential_mode`` strings, default first.
CREDENTIAL_MODES: tuple[str, ...] = tuple(mode.value for mode in CredentialMode)

#: Inherited variables that would override or confuse the credential we hand over, and why. Each is
#: set to ``None`` (removed) in the engine's environment, except those an identity sets or keeps.
CREDENTIAL_ENV_VARS: Mapping[str, str] = {
    "GOOGLE_OAUTH_ACCESS_TOKEN": "static token; checked first by pulumi-gcp and the gs:// backend, never refreshed",
    "GOOGLE_CREDENTIALS": "credential JSON; wins over GOOGLE_OAUTH_ACCESS_TOKEN in the gs:// backend and gcpkms://",
    "GOOGLE_CLOUD_KEYFILE_JSON": "pulumi-gcp/Terraform alias of GOOGLE_CREDENTIALS (key files)",
    "GCLOUD_KEYFILE_JSON": "older pulumi-gcp/Terraform alias of GOOGLE_CREDENTIALS (key files)",
    "GOOGLE_APPLICATION_CREDENTIALS": (
        "ADC file; would be used by anything not reading the token (and by refreshable mode)"
    ),
    "GOOGLE_IMPERSONATE_SERVICE_ACCOUNT": "pulumi-gcp would impersonate again on top of our credential",
    "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE": "gcloud (called by programs or kubectl auth plugins) would use another token",
    "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE": "gcloud would use another credential file",
    "CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT": "gcloud would impersonate another account",
}
#: Project variables pulumi-gcp reads *before* GOOGLE_CLOUD_PROJECT (GOOGLE_PROJECT) or after it;
#: removed when a project is given so ours is the only one.
OTHER_PROJECT_ENV_VARS = ("GOOGLE_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT")


def cleared_env(*, keep: tuple[str, ...] = ()) -> dict[str, str | None]:
    """Every :data:`CREDENTIAL_ENV_VARS` entry set to ``None`` (removed), except the inherited ones in *keep*."""
    return {name: None for name in CREDENTIAL_ENV_VARS if name not in keep}


def project_env(project: str | None) -> dict[str, str | None]:
    """``GOOGLE_CLOUD_PROJECT`` set to *project*, the other project variables removed; nothing without one."""
    if not project:
        return {}
    env: dict[str, str | None] = dict.fromkeys(OTHER_PROJECT_ENV_VARS)
    env["GOOGLE_CLOUD_PROJECT"] = project
    return env


@dataclass(frozen=True)
class EngineEnv:
    """One identity's hand-off to the engine, before the project and any temp file are added.

    :ivar env: variables to set (``str``) or remove from the inherited environment (``None``).
    :ivar credential_config: a credential configuration (no secret in it) to write to a private file
        named by ``GOOGLE_APPLICATION_CREDENTIALS``; ``None`` when there is none.
    :ivar notice: a trade-off of this hand-off, logged as a warning; ``None`` when there is none.
    """

    env: Mapping[str, str | None] = field(repr=False)
    credential_config: Mapping[str, Any] | None = field(default=None, repr=False)
    notice: str | None = None

    @classmethod
    def token(cls, token: str) -> EngineEnv:
        """Token mode, the same for every identity: the token alone, every other credential variable removed."""
        env = cleared_env()
        env["GOOGLE_OAUTH_ACCESS_TOKEN"] = token
        return cls(env)


class ImpersonationOnTop(Protocol):
    """An impersonation on top of a source, as the source sees it when saying how the engine refreshes.

    In refreshable mode the source decides how the impersonation travels with its own hand-off (written
    into a credential configuration, or as ``GOOGLE_IMPERSONATE_SERVICE_ACCOUNT``). Sources, and the
    :class:`~airflow_pulumi_decorators.identity.Identity` interface, name this protocol rather than
    :class:`~airflow_pulumi_decorators.identity.ServiceAccountImpersonation` (which satisfies it), so
    that imports run one way: impersonation imports the interface, never the reverse.
    """

    @property
    def target_principal(self) -> str:
        """The service account to act as."""

    @property
    def delegates(self) -> tuple[str, ...]:
        """The service accounts between the source and the target, in order."""

    @property
    def lifetime_seconds(self) -> int:
        """The token lifetime asked for, in seconds."""

    @property
    def generate_access_token_url(self) -> str:
        """The IAM Credentials ``generateAccessToken`` URL of the target."""

    def describe(self) -> str:
        """A one-line, secret-free description."""

    def check_impersonation_variable(self) -> None:
        """Refuse what ``GOOGLE_IMPERSONATE_SERVICE_ACCOUNT`` cannot carry."""

    def with_impersonation_variable(self, source_env: EngineEnv) -> EngineEnv:
        """*source_env* with the engine told to act as the target."""
