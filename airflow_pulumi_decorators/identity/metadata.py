"""GKE Workload Identity (or any Compute Engine style metadata server) as the credential source."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow_pulumi_decorators.errors import ConfigurationError
from airflow_pulumi_decorators.identity.base import (
    DEFAULT_SCOPES,
    DEFAULT_UNIVERSE_DOMAIN,
    Identity,
    ambient_refreshable_env,
    check_ambient_refreshable,
    check_service_account_email,
    normalize_scopes,
)
from airflow_pulumi_decorators.identity.engine_env import EngineEnv, ImpersonationOnTop, cleared_env

if TYPE_CHECKING:  # pragma: no cover
    import google.auth.credentials

#: Environment variables google-auth (and Go's metadata client in the engine) read for the host.
METADATA_HOST_ENV_VARS = ("GCE_METADATA_HOST", "GCE_METADATA_ROOT")
_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-\[\]:]+$")


def metadata_host_env(host: str | None) -> dict[str, str | None]:
    """``GCE_METADATA_HOST`` for the engine (its Go metadata client reads it too) when *host* is set."""
    return {"GCE_METADATA_HOST": host} if host else {}


@dataclass(frozen=True)
class GkeMetadataServer(Identity):
    """The Kubernetes service account's Google identity, from the GKE metadata server.

    On GKE with Workload Identity the pod's Kubernetes service account is bound to a Google service
    account (``iam.gke.io/gcp-service-account`` annotation + ``roles/iam.workloadIdentityUser``); the
    node's metadata server hands out that account's tokens. Two HTTP requests: account info, token.

    :param scopes: OAuth scopes to request (GKE honours them; Compute Engine VMs ignore them).
    :param service_account: ``"default"`` (the only account on GKE) or the account's e-mail.
    :param metadata_host: ``host[:port]`` of the metadata server. ``None`` means: the
        ``GCE_METADATA_HOST`` (or legacy ``GCE_METADATA_ROOT``) environment variable *read at call
        time*, else google-auth's default ``metadata.google.internal``. google-auth itself reads
        ``GCE_METADATA_HOST`` only once, when ``google.auth.compute_engine._metadata`` is first
        imported, so a later change would be ignored; we therefore redirect its metadata requests
        ourselves (tests point this at :class:`~airflow_pulumi_decorators.testing.google.FakeGoogleTokenServer`).
    """

    scopes: tuple[str, ...] = DEFAULT_SCOPES
    service_account: str = "default"
    metadata_host: str | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scopes", normalize_scopes(self.scopes, owner="GkeMetadataServer"))
        if self.service_account != "default":
            object.__setattr__(
                self,
                "service_account",
                check_service_account_email(self.service_account, owner="GkeMetadataServer", param="service_account"),
            )
        if self.metadata_host is not None:
            host = self.metadata_host.strip() if isinstance(self.metadata_host, str) else ""
            host = re.sub(r"^https?://", "", host).rstrip("/")
            if not host or not _HOST_PORT.match(host):
                raise ConfigurationError(
                    f"GkeMetadataServer(metadata_host={self.metadata_host!r}) must be 'host' or 'host:port', "
                    f"e.g. '127.0.0.1:8080'; leave it None to use GCE_METADATA_HOST or the default."
                )
            object.__setattr__(self, "metadata_host", host)

    def describe(self) -> str:
        where = f" at {self.metadata_host}" if self.metadata_host else ""
        return f"GKE metadata server{where} (service account {self.service_account!r})"

    def metadata_host_override(self) -> str | None:
        """The host override in force now: the field, else the environment (read at call time)."""
        if self.metadata_host:
            return self.metadata_host
        for name in METADATA_HOST_ENV_VARS:
            value = os.environ.get(name)
            if value:
                return re.sub(r"^https?://", "", value.strip()).rstrip("/")
        return None

    def google_credentials(self) -> google.auth.credentials.Credentials:
        from google.auth import compute_engine

        # universe_domain given explicitly: otherwise google-auth looks it up on the metadata server
        # with a fresh HTTP client of its own (ignoring ours, its timeout and the host override).
        return compute_engine.Credentials(
            service_account_email=self.service_account,
            scopes=list(self.scopes),
            universe_domain=DEFAULT_UNIVERSE_DOMAIN,
        )

    def principal(self, credentials: google.auth.credentials.Credentials) -> str:
        # compute_engine.Credentials replaces "default" by the e-mail from the info request.
        return str(getattr(credentials, "service_account_email", None) or self.service_account)

    def check_refreshable(
        self, *, read_files: bool = True, impersonated_by: ImpersonationOnTop | None = None
    ) -> None:
        check_ambient_refreshable(impersonated_by)

    def refreshable_env(self, *, impersonated_by: ImpersonationOnTop | None = None) -> EngineEnv:
        # GOOGLE_APPLICATION_CREDENTIALS removed too: the engine's ADC falls through to this server.
        env = {**cleared_env(), **metadata_host_env(self.metadata_host_override())}
        return ambient_refreshable_env(env, impersonated_by)
