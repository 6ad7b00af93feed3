"""Workload Identity Federation: exchange an external OIDC/SAML token for a Google token at STS."""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_pulumi_decorators.errors import ConfigurationError
from airflow_pulumi_decorators.identity.base import (
    DEFAULT_SCOPES,
    MAX_LIFETIME_SECONDS,
    Identity,
    check_service_account_email,
    normalize_scopes,
)
from airflow_pulumi_decorators.identity.engine_env import EngineEnv, ImpersonationOnTop, cleared_env

if TYPE_CHECKING:  # pragma: no cover
    import google.auth.credentials

_OWNER = "WorkloadIdentityFederation"
# The pool provider's full resource name (any universe: //iam.<domain>/...).
_AUDIENCE = re.compile(
    r"^//iam\.[A-Za-z0-9.-]+/(?:projects/\d+/locations/global/workloadIdentityPools/[^/\s]+"
    r"|locations/global/workforcePools/[^/\s]+)/providers/[^/\s]+$"
)
_IMPERSONATION_URL = re.compile(r"/([^/]+):generateAccessToken$")
_FIX = (
    "generate it with `gcloud iam workload-identity-pools create-cred-config` "
    "(see docs/identity/workload-identity-federation.md)"
)


def impersonation_target(url: str) -> str | None:
    """The service-account e-mail at the end of a ``...:generateAccessToken`` URL, if any."""
    match = _IMPERSONATION_URL.search(url or "")
    return match.group(1) if match else None


def validate_external_account_config(info: object, *, where: str) -> dict[str, Any]:
    """Check *info* is a usable ``external_account`` credential configuration and return a deep copy.

    Only ``file`` and ``url`` credential sources are accepted: an ``executable`` source runs an
    arbitrary command on every refresh (and in the engine too, in refreshable mode), and AWS /
    certificate sources are not supported by this library.

    :param info: the parsed JSON.
    :param where: where it came from (``credential_config`` or a file path), for messages.
    :raises ConfigurationError: naming what is wrong and how to fix it.
    """
    if not isinstance(info, Mapping):
        raise ConfigurationError(
            f"{_OWNER}: {where} must be a JSON object (an external_account credential configuration); {_FIX}."
        )
    info = copy.deepcopy(dict(info))
    _check_type(info, where)
    _check_token_exchange(info, where)
    _check_credential_source(info.get("credential_source"), where)
    _check_impersonation(info, where)
    return info


def _check_type(info: Mapping[str, Any], where: str) -> None:
    kind = info.get("type")
    if kind == "external_account":
        return
    hint = ""
    if kind == "service_account":
        hint = " Service-account key files are not accepted: this library uses keyless identities only."
    raise ConfigurationError(
        f"{_OWNER}: {where} has type {kind!r}, expected 'external_account'.{hint} {_FIX[0].upper()}{_FIX[1:]}."
    )


def _check_token_exchange(info: Mapping[str, Any], where: str) -> None:
    """What STS is asked: the pool provider (``audience``), the token type and ``token_url``."""
    for key in ("audience", "subject_token_type", "token_url"):
        if not isinstance(info.get(key), str) or not info[key].strip():
            raise ConfigurationError(f"{_OWNER}: {where} lacks {key!r}; {_FIX}.")
    if not _AUDIENCE.match(info["audience"].strip()):
        raise ConfigurationError(
            f"{_OWNER}: {where} has audience {info['audience']!r}, which is not a pool provider; expected "
            "'//iam.googleapis.com/projects/PROJECT_NUMBER/locations/global/workloadIdentityPools/POOL/"
            "providers/PROVIDER' "
            f"(the project NUMBER, not its ID) or, for workforce pools, "
            f"'//iam.googleapis.com/locations/global/workforcePools/POOL/providers/PROVIDER'; {_FIX}."
        )
    if not re.match(r"^https?://", info["token_url"]):
        raise ConfigurationError(f"{_OWNER}: {where} has token_url {info['token_url']!r}, which is not an http(s) URL.")


def _check_credential_source(source: object, where: str) -> None:
    """Where the subject token is read: exactly one ``file`` or ``url``, as text or JSON."""
    if not isinstance(source, Mapping):
        raise ConfigurationError(
            f"{_OWNER}: {where} lacks 'credential_source' (a 'file' or 'url' the subject token is read from); {_FIX}."
        )
    if "executable" in source:
        raise ConfigurationError(
            f"{_OWNER}: {where} uses an 'executable' credential_source, which is refused: it would run a "
            f"command on every token refresh, inside the Airflow worker and the Pulumi engine. Write the "
            f"subject token to a file (e.g. a projected Kubernetes service-account token) and use "
            f"credential_source={{'file': PATH}}, or serve it on a URL."
        )
    if "environment_id" in source or "certificate" in source:
        raise ConfigurationError(
            f"{_OWNER}: {where} uses an AWS or X.509 credential_source, which this library does not support; "
            f"use a 'file' or 'url' credential_source."
        )
    has_file, has_url = bool(source.get("file")), bool(source.get("url"))
    if has_file == has_url:
        raise ConfigurationError(
            f"{_OWNER}: {where} credential_source must have exactly one of 'file' or 'url', "
            f"got {sorted(k for k in source if k in ('file', 'url')) or 'neither'}."
        )
    _check_subject_token_format(source.get("format") or {}, where)


def _check_subject_token_format(fmt: object, where: str) -> None:
    if not isinstance(fmt, Mapping) or fmt.get("type", "text") not in ("text", "json"):
        raise ConfigurationError(f"{_OWNER}: {where} credential_source.format.type must be 'text' or 'json'.")
    if fmt.get("type") == "json" and not fmt.get("subject_token_field_name"):
        raise ConfigurationError(
            f"{_OWNER}: {where} credential_source.format is 'json' but has no 'subject_token_field_name'."
        )


def _check_impersonation(info: Mapping[str, Any], where: str) -> None:
    """The optional service account to impersonate after the exchange, and its token lifetime."""
    url = info.get("service_account_impersonation_url")
    if url is not None:
        target = impersonation_target(url) if isinstance(url, str) else None
        if not target:
            raise ConfigurationError(
                f"{_OWNER}: {where} service_account_impersonation_url must end in "
                f"'/serviceAccounts/EMAIL:generateAccessToken', got {url!r}."
            )
        check_service_account_email(target, owner=_OWNER, param="service_account_impersonation_url")
    options = info.get("service_account_impersonation") or {}
    lifetime = options.get("token_lifetime_seconds") if isinstance(options, Mapping) else None
    in_range = isinstance(lifetime, int) and not isinstance(lifetime, bool) and 1 <= lifetime <= MAX_LIFETIME_SECONDS
    if lifetime is not None and not in_range:
        raise ConfigurationError(
            f"{_OWNER}: {where} service_account_impersonation.token_lifetime_seconds must be an integer "
            f"1..{MAX_LIFETIME_SECONDS}, got {lifetime!r}."
        )


@dataclass(frozen=True)
class WorkloadIdentityFederation(Identity):
    """Workload Identity Federation from an ``external_account`` credential configuration.

    The configuration (what ``gcloud iam workload-identity-pools create-cred-config`` writes) names
    the pool provider (``audience``), the STS ``token_url``, where the external subject token is read
    (``credential_source.file``, re-read on every exchange, or ``credential_source.url``) and,
    optionally, a service account to impersonate. It holds no secret.

    Give exactly one of:

    :param credential_config: the configuration as a dict (validated at parse time), or a JSON
        string (validated at parse time), or a path to the JSON file.
    :param credential_config_file: a path to the JSON file. A path is read and validated at **task
        start**, not at parse time: on Kubernetes the file is usually mounted into worker pods only,
        and the DAG processor may not have it.
    :param scopes: OAuth scopes requested from STS (or from the impersonated account).
    """

    # hash=False: a dict is unhashable; equality still compares it.
    credential_config: Mapping[str, Any] | str | None = field(default=None, hash=False)
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    credential_config_file: str | os.PathLike[str] | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scopes", normalize_scopes(self.scopes, owner=_OWNER))
        config, path = self.credential_config, self.credential_config_file
        if config is not None and path is not None:
            raise ConfigurationError(
                f"{_OWNER}: give either credential_config (a dict or JSON) or credential_config_file "
                f"(a path), not both."
            )
        if isinstance(config, str):
            text = config.strip()
            if text.startswith("{"):
                try:
                    config = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ConfigurationError(
                        f"{_OWNER}(credential_config=...) is not valid JSON: {exc.msg} at line {exc.lineno} column "
                        f"{exc.colno}; pass the file `gcloud iam workload-identity-pools create-cred-config` wrote, "
                        f"unchanged (or a dict)."
                    ) from None
            else:  # a path given in the first parameter
                config, path = None, text
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if config is None and not path:
            raise ConfigurationError(
                f"{_OWNER} needs credential_config (a dict) or credential_config_file (a path to the JSON "
                f"written by `gcloud iam workload-identity-pools create-cred-config`)."
            )
        if config is not None:
            # A private deep copy: later changes to the caller's dict do not leak in. (Not a
            # MappingProxyType: Airflow deep-copies operators, and proxies cannot be deep-copied.)
            config = validate_external_account_config(config, where="credential_config")
        object.__setattr__(self, "credential_config", config)
        object.__setattr__(self, "credential_config_file", path or None)

    # -- configuration ---------------------------------------------------------------------------

    def load_config(self) -> dict[str, Any]:
        """The validated configuration as a fresh dict (reads the file when one was given).

        :raises ConfigurationError: if the file is missing, unreadable or not a valid configuration.
        """
        config = self._inline_config()
        if config is not None:
            return copy.deepcopy(dict(config))
        path = str(self.credential_config_file)
        try:
            with open(path, encoding="utf-8") as handle:
                info = json.load(handle)
        except FileNotFoundError:
            raise ConfigurationError(
                f"{_OWNER}(credential_config_file={path!r}): the file does not exist on this worker; mount "
                f"it into the worker (it is read at task start) or pass the configuration as a dict."
            ) from None
        except json.JSONDecodeError as exc:
            raise ConfigurationError(
                f"{_OWNER}(credential_config_file={path!r}) is not valid JSON: {exc.msg} at line {exc.lineno} column "
                f"{exc.colno}; write it again with `gcloud iam workload-identity-pools create-cred-config`."
            ) from None
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"{_OWNER}(credential_config_file={path!r}) cannot be read: {exc}.") from None
        return validate_external_account_config(info, where=f"credential_config_file {path!r}")

    def check_runtime(self) -> None:
        info = self.load_config()
        token_file = info["credential_source"].get("file")
        if token_file and not os.path.isfile(token_file):
            where = (
                "credential_config"
                if self.credential_config is not None
                else f"credential_config_file {self.credential_config_file!r}"
            )
            raise ConfigurationError(
                f"{_OWNER}: the subject token file {token_file!r} (credential_source.file of {where}) does not "
                f"exist on this worker. It is the workload's OIDC token, read at every exchange: on Kubernetes mount a "
                f"projected service-account token there (volume 'serviceAccountToken' with audience = the pool "
                f"provider), elsewhere have your identity provider write it there, or point credential_source.file "
                f"at where it is."
            )

    def _inline_config(self) -> Mapping[str, Any] | None:
        """The configuration given in the DAG: ``__post_init__`` parsed a JSON string, and a path moved to
        ``credential_config_file``."""
        config = self.credential_config
        assert not isinstance(config, str)
        return config

    def describe(self) -> str:
        info = self._inline_config()
        if info is not None:
            source = info["credential_source"]
            origin = f"file {source['file']!r}" if source.get("file") else f"url {source['url']!r}"
            target = impersonation_target(info.get("service_account_impersonation_url") or "")
            via = f", impersonating {target}" if target else ""
            return f"workload identity federation (audience {info['audience']!r}, subject token from {origin}{via})"
        return f"workload identity federation (config file {self.credential_config_file!r})"

    def secret_urls(self) -> frozenset[str]:
        try:
            url = self.load_config()["credential_source"].get("url")
        except ConfigurationError:
            return frozenset()
        return frozenset([url]) if url else frozenset()

    # -- google-auth -----------------------------------------------------------------------------

    def google_credentials(self) -> google.auth.credentials.Credentials:
        from google.auth import identity_pool

        credentials: google.auth.credentials.Credentials = identity_pool.Credentials.from_info(
            self.load_config(), scopes=list(self.scopes)
        )
        return credentials

    def principal(self, credentials: google.auth.credentials.Credentials) -> str:
        email = getattr(credentials, "service_account_email", None)
        if email:
            return str(email)
        # No impersonation: the caller acts as the federated principal of the pool provider.
        return f"federated principal of {self.load_config()['audience']}"

    # -- the hand-off to the engine ------------------------------------------------------------------

    def configured_lifetime(self) -> int | None:
        # Known before the task runs only when the configuration is in the DAG and impersonates.
        info = self._inline_config()
        if info is None or not info.get("service_account_impersonation_url"):
            return None
        options = info.get("service_account_impersonation") or {}
        return int(options.get("token_lifetime_seconds") or 3600)

    def check_refreshable(
        self, *, read_files: bool = True, impersonated_by: ImpersonationOnTop | None = None
    ) -> None:
        if impersonated_by is None:
            return
        if impersonated_by.delegates:
            raise ConfigurationError(
                f"credential_mode='refreshable' cannot express delegates {list(impersonated_by.delegates)} after "
                f"workload identity federation (a credential configuration has no delegates field). Grant the "
                f"federated principal roles/iam.serviceAccountTokenCreator on {impersonated_by.target_principal} "
                f"directly, or use credential_mode='token'."
            )
        if not read_files and self.credential_config is None:
            return
        if self.load_config().get("service_account_impersonation_url"):
            raise ConfigurationError(
                "credential_mode='refreshable' cannot express impersonation on top of a credential configuration "
                "that already impersonates; put the final service account in the configuration's "
                "service_account_impersonation_url, or use credential_mode='token'."
            )

    def refreshable_env(self, *, impersonated_by: ImpersonationOnTop | None = None) -> EngineEnv:
        """The configuration itself (it holds no secret), for the engine to exchange the subject token
        on its own; an impersonation on top is written into it."""
        config = self.load_config()
        if impersonated_by is not None:
            config["service_account_impersonation_url"] = impersonated_by.generate_access_token_url
            config["service_account_impersonation"] = {
                "token_lifetime_seconds": min(impersonated_by.lifetime_seconds, MAX_LIFETIME_SECONDS)
            }
        return EngineEnv(cleared_env(), credential_config=config)
