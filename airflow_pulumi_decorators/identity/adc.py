"""Application Default Credentials: an explicit opt-in, meant for local development."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_pulumi_decorators.errors import ConfigurationError
from airflow_pulumi_decorators.identity.base import (
    DEFAULT_SCOPES,
    DEFAULT_UNIVERSE_DOMAIN,
    Identity,
    ambient_refreshable_env,
    check_ambient_refreshable,
    normalize_scopes,
)
from airflow_pulumi_decorators.identity.engine_env import EngineEnv, ImpersonationOnTop, cleared_env
from airflow_pulumi_decorators.identity.metadata import METADATA_HOST_ENV_VARS, metadata_host_env

if TYPE_CHECKING:  # pragma: no cover
    import google.auth.credentials

_OWNER = "ApplicationDefault"


def well_known_adc_path() -> str:
    """Where ``gcloud auth application-default login`` writes its file (honours ``CLOUDSDK_CONFIG``)."""
    config_dir = os.environ.get("CLOUDSDK_CONFIG")
    if not config_dir:
        if os.name == "nt":
            config_dir = os.path.join(os.environ.get("APPDATA", ""), "gcloud")
        else:
            config_dir = os.path.join(os.path.expanduser("~"), ".config", "gcloud")
    return os.path.join(config_dir, "application_default_credentials.json")


@dataclass(frozen=True)
class ApplicationDefault(Identity):
    """Whatever Application Default Credentials the worker has, looked up in ADC order.

    1. the file named by ``GOOGLE_APPLICATION_CREDENTIALS``;
    2. gcloud's file (``gcloud auth application-default login``);
    3. the metadata server.

    Unlike ``google.auth.default()`` this makes **no** side trips: no metadata-server ping, no gcloud
    subprocess for the project, no Cloud Resource Manager call to find the project of a federated
    configuration. Service-account key files are refused (this library uses keyless identities only).
    Prefer an explicit identity in production: ADC silently changes meaning from one machine to the
    next.

    :param scopes: OAuth scopes (ignored by user credentials, which carry their own).
    :param quota_project_id: project billed for API quota (``x-goog-user-project``).
    """

    scopes: tuple[str, ...] = DEFAULT_SCOPES
    quota_project_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "scopes", normalize_scopes(self.scopes, owner=_OWNER))
        quota = self.quota_project_id
        if quota is not None and (not isinstance(quota, str) or not quota.strip()):
            raise ConfigurationError(f"{_OWNER}(quota_project_id={quota!r}) must be a project id or None.")

    def describe(self) -> str:
        return f"application default credentials ({self.source_description()})"

    def source_description(self) -> str:
        """Which ADC source applies on this machine right now (no network)."""
        path = self._adc_file()
        return f"file {path!r}" if path else "metadata server"

    def metadata_host_override(self) -> str | None:
        if self._adc_file():
            return None
        for name in METADATA_HOST_ENV_VARS:
            if os.environ.get(name):
                return os.environ[name].strip().removeprefix("http://").rstrip("/")
        return None

    def _adc_file(self) -> str | None:
        explicit = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
        if explicit:
            return explicit
        path = well_known_adc_path()
        return path if os.path.isfile(path) else None

    def load_info(self) -> dict[str, Any] | None:
        """The parsed ADC file, or ``None`` when ADC falls through to the metadata server."""
        path = self._adc_file()
        if not path:
            return None
        try:
            with open(path, encoding="utf-8") as handle:
                info = json.load(handle)
        except FileNotFoundError:
            raise ConfigurationError(
                f"{_OWNER}: GOOGLE_APPLICATION_CREDENTIALS names {path!r}, which does not exist on this worker; "
                f"fix or unset it (or run `gcloud auth application-default login`)."
            ) from None
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"{_OWNER}: the ADC file {path!r} cannot be read as JSON: {exc}.") from None
        if not isinstance(info, dict):
            raise ConfigurationError(f"{_OWNER}: the ADC file {path!r} is not a JSON object.")
        source = info.get("source_credentials")
        nested: dict[str, Any] = source if isinstance(source, dict) else {}
        if info.get("type") == "service_account" or nested.get("type") == "service_account":
            raise ConfigurationError(
                f"{_OWNER}: the ADC file {path!r} is a service-account key; this library uses keyless identities "
                f"only. Use `gcloud auth application-default login` (optionally with "
                f"--impersonate-service-account=SA) locally, or GkeMetadataServer / WorkloadIdentityFederation."
            )
        return info

    def check_runtime(self) -> None:
        self.load_info()

    def google_credentials(self) -> google.auth.credentials.Credentials:
        info = self.load_info()
        if info is None:
            from google.auth import compute_engine

            creds: google.auth.credentials.Credentials = compute_engine.Credentials(
                scopes=list(self.scopes), universe_domain=DEFAULT_UNIVERSE_DOMAIN
            )
        elif info.get("type") == "external_account":
            # Not google.auth.load_credentials_from_dict: for external_account it calls Cloud Resource
            # Manager to find the project.
            from google.auth import identity_pool

            from airflow_pulumi_decorators.identity.federation import validate_external_account_config

            config = validate_external_account_config(info, where="the ADC file")
            creds = identity_pool.Credentials.from_info(config, scopes=list(self.scopes))
        else:
            import google.auth
            from google.auth import exceptions

            try:
                # authorized_user, impersonated_service_account, external_account_authorized_user:
                # loading these makes no HTTP request.
                creds, _ = google.auth.load_credentials_from_dict(info, scopes=list(self.scopes))
            except exceptions.DefaultCredentialsError as exc:
                raise ConfigurationError(f"{_OWNER}: the ADC file cannot be used: {exc}") from None
        if self.quota_project_id and hasattr(creds, "with_quota_project"):
            creds = creds.with_quota_project(self.quota_project_id)
        return creds

    def principal(self, credentials: google.auth.credentials.Credentials) -> str:
        email = getattr(credentials, "service_account_email", None)
        if email and email != "default":
            return str(email)
        account = getattr(credentials, "account", None)
        if account:
            return str(account)
        return f"application default credentials ({self.source_description()})"

    def check_refreshable(
        self, *, read_files: bool = True, impersonated_by: ImpersonationOnTop | None = None
    ) -> None:
        check_ambient_refreshable(impersonated_by)

    def refreshable_env(self, *, impersonated_by: ImpersonationOnTop | None = None) -> EngineEnv:
        # The engine finds the worker's ADC itself: GOOGLE_APPLICATION_CREDENTIALS passes through.
        env = {
            **cleared_env(keep=("GOOGLE_APPLICATION_CREDENTIALS",)),
            **metadata_host_env(self.metadata_host_override()),
        }
        return ambient_refreshable_env(env, impersonated_by)
