"""Service-account impersonation (IAM Credentials ``generateAccessToken``) on top of another identity."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_pulumi_decorators.errors import ConfigurationError
from airflow_pulumi_decorators.identity.base import (
    DEFAULT_LIFETIME_SECONDS,
    DEFAULT_SCOPES,
    MAX_LIFETIME_SECONDS,
    Identity,
    check_service_account_email,
    check_url,
    normalize_scopes,
)
from airflow_pulumi_decorators.identity.engine_env import EngineEnv, ImpersonationOnTop

if TYPE_CHECKING:  # pragma: no cover
    import google.auth.credentials

_OWNER = "ServiceAccountImpersonation"
DEFAULT_IAM_ENDPOINT = "https://iamcredentials.googleapis.com"


@dataclass(frozen=True)
class ServiceAccountImpersonation(Identity):
    """Act as *target_principal*, using *source*'s credential to call ``generateAccessToken``.

    *source* is **required**: it is never silently taken from whatever Application Default
    Credentials happen to exist on the worker. (An Airflow connection with ``impersonation_chain``
    and no ``credential_config_file`` does use ADC as the source, like Airflow's Google hooks; see
    :func:`~airflow_pulumi_decorators.identity.identity_from_connection`.)

    The source's token is requested with scope ``https://www.googleapis.com/auth/iam`` (google-auth
    re-scopes it), and *scopes* are asked for the target. Each link of ``source -> delegates... ->
    target`` needs ``roles/iam.serviceAccountTokenCreator`` on the next one.

    :param target_principal: e-mail of the service account to act as.
    :param source: the identity whose credential calls IAM (e.g. :class:`GkeMetadataServer`).
    :param delegates: intermediate service accounts, in order, for a delegation chain.
    :param lifetime: token lifetime, seconds (int) or :class:`~datetime.timedelta`, 1..43200.
        Above 3600 s IAM refuses unless the organisation policy
        ``constraints/iam.allowServiceAccountCredentialLifetimeExtension`` lists the target.
    :param scopes: OAuth scopes of the target's token.
    :param iam_endpoint: base URL of the IAM Credentials API (a Private Service Connect endpoint, or a
        loopback fake in tests); default ``https://iamcredentials.googleapis.com``.
    """

    target_principal: str
    _: KW_ONLY
    source: Identity | None = None
    delegates: tuple[str, ...] = ()
    lifetime: int | timedelta = DEFAULT_LIFETIME_SECONDS
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    iam_endpoint: str = DEFAULT_IAM_ENDPOINT

    def __post_init__(self) -> None:
        target = check_service_account_email(self.target_principal, owner=_OWNER, param="target_principal")
        object.__setattr__(self, "target_principal", target)
        if self.source is None:
            raise ConfigurationError(
                f"{_OWNER}(source=...) is required: the identity that calls IAM to act as {target}, e.g. "
                f"source=GkeMetadataServer() on GKE, source=WorkloadIdentityFederation(...), or "
                f"source=ApplicationDefault() for local development."
            )
        if not isinstance(self.source, Identity):
            raise ConfigurationError(
                f"{_OWNER}(source={self.source!r}) must be an identity such as GkeMetadataServer(), "
                f"WorkloadIdentityFederation(...) or ApplicationDefault()."
            )
        delegates: object = self.delegates  # what the user passed: a string or a list works too
        if isinstance(delegates, str):
            delegates = [d for d in delegates.split(",") if d.strip()]
        if not isinstance(delegates, Sequence):
            raise ConfigurationError(f"{_OWNER}(delegates=...) must be a list of service-account e-mails.")
        for index, delegate in enumerate(delegates):
            if not isinstance(delegate, str) or not delegate.strip():
                raise ConfigurationError(
                    f"{_OWNER}(delegates=...) entry {index} is {delegate!r}; every entry must be a service-account "
                    f"e-mail (the accounts between the source and {target}, in order). Remove the empty entry."
                )
        delegates = tuple(
            check_service_account_email(d, owner=_OWNER, param=f"delegates[{i}]") for i, d in enumerate(delegates)
        )
        if target in delegates:
            raise ConfigurationError(
                f"{_OWNER}(delegates=...) must not contain the target {target}; list only the accounts between "
                f"the source and the target."
            )
        object.__setattr__(self, "delegates", delegates)
        object.__setattr__(self, "lifetime", _lifetime_seconds(self.lifetime))
        object.__setattr__(self, "scopes", normalize_scopes(self.scopes, owner=_OWNER))
        object.__setattr__(self, "iam_endpoint", check_url(self.iam_endpoint, owner=_OWNER, param="iam_endpoint"))

    @property
    def lifetime_seconds(self) -> int:
        """:attr:`lifetime` in seconds (a :class:`~datetime.timedelta` given to the constructor is stored so)."""
        return _lifetime_seconds(self.lifetime)

    @classmethod
    def from_impersonation_chain(
        cls,
        chain: str | Sequence[str],
        *,
        source: Identity,
        lifetime: int | timedelta = DEFAULT_LIFETIME_SECONDS,
        scopes: Any = DEFAULT_SCOPES,
        iam_endpoint: str = DEFAULT_IAM_ENDPOINT,
    ) -> ServiceAccountImpersonation:
        """Build from Airflow's ``impersonation_chain`` convention: a single e-mail, a comma-separated
        string or a list; the **last** entry is the target, the others are the delegates in order.

        :param chain: the chain.
        :param source: the identity that starts the chain.
        """
        items = [c.strip() for c in chain.split(",")] if isinstance(chain, str) else [str(c).strip() for c in chain]
        items = [c for c in items if c]
        if not items:
            raise ConfigurationError(
                f"{_OWNER}.from_impersonation_chain(chain=...) is empty; give at least the target service account."
            )
        return cls(
            items[-1],
            source=source,
            delegates=tuple(items[:-1]),
            lifetime=lifetime,
            scopes=scopes,
            iam_endpoint=iam_endpoint,
        )

    @property
    def generate_access_token_url(self) -> str:
        """The exact ``generateAccessToken`` URL for the target."""
        return f"{self.iam_endpoint}/v1/projects/-/serviceAccounts/{self.target_principal}:generateAccessToken"

    def describe(self) -> str:
        via = f" via {', '.join(self.delegates)}" if self.delegates else ""
        return f"impersonation of {self.target_principal}{via} for {self.lifetime}s, from {self.source.describe()}"  # type: ignore[union-attr]

    def resolve(self) -> Identity:
        assert self.source is not None
        source = self.source.resolve()
        if source is self.source:
            return self
        return ServiceAccountImpersonation(
            self.target_principal,
            source=source,
            delegates=self.delegates,
            lifetime=self.lifetime,
            scopes=self.scopes,
            iam_endpoint=self.iam_endpoint,
        )

    def check_runtime(self) -> None:
        assert self.source is not None
        self.source.check_runtime()

    def metadata_host_override(self) -> str | None:
        assert self.source is not None
        return self.source.metadata_host_override()

    def secret_urls(self) -> frozenset[str]:
        assert self.source is not None
        return self.source.secret_urls()

    def google_credentials(self) -> google.auth.credentials.Credentials:
        from google.auth import impersonated_credentials

        assert self.source is not None
        # google-auth re-scopes a scoped source to .../auth/iam itself (what generateAccessToken needs).
        return impersonated_credentials.Credentials(
            source_credentials=self.source.google_credentials(),
            target_principal=self.target_principal,
            target_scopes=list(self.scopes),
            # IAM documents delegates as resource names; bare e-mails are accepted but not specified.
            delegates=[f"projects/-/serviceAccounts/{d}" for d in self.delegates] or None,
            lifetime=self.lifetime_seconds,
            iam_endpoint_override=self.generate_access_token_url,
        )

    def principal(self, credentials: google.auth.credentials.Credentials) -> str:
        return self.target_principal

    # -- the hand-off to the engine: the source says how impersonation travels with it ----------

    def configured_lifetime(self) -> int | None:
        return self.lifetime_seconds

    def check_refreshable(
        self, *, read_files: bool = True, impersonated_by: ImpersonationOnTop | None = None
    ) -> None:
        if impersonated_by is not None:  # impersonation of an impersonation: refused by the default
            return super().check_refreshable(read_files=read_files, impersonated_by=impersonated_by)
        assert self.source is not None
        self.source.check_refreshable(read_files=read_files, impersonated_by=self)

    def refreshable_env(self, *, impersonated_by: ImpersonationOnTop | None = None) -> EngineEnv:
        if impersonated_by is not None:
            return super().refreshable_env(impersonated_by=impersonated_by)
        assert self.source is not None
        return self.source.refreshable_env(impersonated_by=self)

    def check_impersonation_variable(self) -> None:
        """Refuse what ``GOOGLE_IMPERSONATE_SERVICE_ACCOUNT`` cannot carry (for a source the engine
        finds itself: the metadata server, ADC).

        :raises ConfigurationError: when there are delegates.
        """
        if self.delegates:
            raise ConfigurationError(
                f"credential_mode='refreshable' passes impersonation to the engine as "
                f"GOOGLE_IMPERSONATE_SERVICE_ACCOUNT, which has no delegates; remove delegates "
                f"{list(self.delegates)} or use credential_mode='token'."
            )

    def with_impersonation_variable(self, source_env: EngineEnv) -> EngineEnv:
        """*source_env* (the source's own refreshable hand-off) with the engine told to act as the target.

        Trade-off, logged as a warning: pulumi-gcp honours ``GOOGLE_IMPERSONATE_SERVICE_ACCOUNT``; the
        ``gs://`` state backend and ``gcpkms://`` secrets provider do not and act as the source principal.
        """
        self.check_impersonation_variable()
        assert self.source is not None
        return EngineEnv(
            {**source_env.env, "GOOGLE_IMPERSONATE_SERVICE_ACCOUNT": self.target_principal},
            credential_config=source_env.credential_config,
            notice=(
                f"Refreshable mode: pulumi-gcp resources will be managed as {self.target_principal} "
                f"(GOOGLE_IMPERSONATE_SERVICE_ACCOUNT), but a gs:// state backend and gcpkms:// secrets are "
                f"accessed as the source identity ({self.source.describe()})."
            ),
        )


def _lifetime_seconds(value: object) -> int:
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise ConfigurationError(
            f"{_OWNER}(lifetime={value!r}) must be seconds (int) or a datetime.timedelta, 1..{MAX_LIFETIME_SECONDS}."
        )
    if seconds != int(seconds) or not 1 <= seconds <= MAX_LIFETIME_SECONDS:
        raise ConfigurationError(
            f"{_OWNER}(lifetime={value!r}) must be a whole number of seconds between 1 and {MAX_LIFETIME_SECONDS} "
            f"(12 h); above 3600 s the organisation policy "
            f"constraints/iam.allowServiceAccountCredentialLifetimeExtension must list the target."
        )
    return int(seconds)
