"""The Airflow connection type ``pulumi``: where state lives, and the credentials to reach it.

Fields (the UI relabels them, see :mod:`~airflow_pulumi_decorators.provider`):

``host`` — **Backend URL**
    ``file:///path``, ``gs://bucket/prefix``, ``s3://bucket/prefix``, ``azblob://container/prefix`` or
    Pulumi Cloud ``https://api.pulumi.com`` (or a self-hosted Pulumi service). An extra ``backend_url`` is
    accepted instead, for secrets backends that store connections as URIs.
``login`` — **Organization**
    Pulumi Cloud organization: qualifies stack names (``org/stack`` or ``org/project/stack``).
``password`` — **Access token**
    Pulumi Cloud access token, handed to the engine as ``PULUMI_ACCESS_TOKEN``.
extra ``encryption_provider`` — **Secrets provider**
    ``default``, ``passphrase``, ``gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K``,
    ``awskms://…``, ``azurekeyvault://…`` or ``hashivault://…``; used when a stack is created. Its earlier
    name ``secrets_provider`` is still read (with a ``FutureWarning``): Airflow shows the value of any extra
    whose name contains ``secret`` as ``***``, so an admin could not see this non-secret setting.
extra ``config_passphrase``
    Passphrase of the ``passphrase`` provider, handed to the engine as ``PULUMI_CONFIG_PASSPHRASE``.

Unlike Astronomer's ``airflow-provider-pulumi`` connection, nothing here is read when a DAG is parsed,
no per-key config is taken from the connection (config belongs to the ``Environment``, secrets in
``secret_config``), and the token and passphrase reach the engine only through its environment, after
being registered with Airflow's secret masker. Importing this module imports no ``airflow.sdk``.

This module is also where any connection is read (:func:`read_connection`) and its extras looked up
(:class:`ConnectionExtras`): the ``google_cloud_platform`` connection of
:mod:`~airflow_pulumi_decorators.identity.connection` goes through it too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_pulumi_decorators.backend_url import BackendUrl, validate_backend_url
from airflow_pulumi_decorators.errors import ConfigurationError

CONN_TYPE = "pulumi"
#: The extra naming the secrets provider. Not ``secrets_provider``: Airflow redacts the value of every extra whose
#: name contains a sensitive word (``secret``, ``token``, ``passphrase`` ...), in the UI and the REST API.
PROVIDER_EXTRA = "encryption_provider"
#: Its earlier name, still read (deprecated).
OLD_PROVIDER_EXTRA = "secrets_provider"
KNOWN_EXTRAS = (PROVIDER_EXTRA, "config_passphrase", "backend_url", OLD_PROVIDER_EXTRA)
SECRETS_PROVIDER_SCHEMES = ("gcpkms", "awskms", "azurekeyvault", "hashivault")
_ORG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_GCPKMS_RE = re.compile(r"^gcpkms://projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$")


def backend_kind(url: str) -> str:
    """``file``, ``bucket`` or ``cloud`` (the Pulumi service) for a backend URL: its :attr:`BackendUrl.kind`.

    :param url: a validated backend URL.
    """
    return BackendUrl(url).kind


def validate_secrets_provider(value: object, *, where: str) -> str | None:
    """Check a secrets provider; ``None`` (or ``default``) is the backend's default.

    :param value: ``default``, ``passphrase`` or a KMS URL.
    :param where: what to name in the error.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "default")):
        return None
    fix = (
        "use default, passphrase, gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K, awskms://KEY, "
        "azurekeyvault://VAULT.vault.azure.net/keys/KEY or hashivault://KEY"
    )
    if not isinstance(value, str):
        raise ConfigurationError(f"{where} must be a string; {fix}")
    value = value.strip()
    if value.lower() == "passphrase":
        return "passphrase"
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme not in SECRETS_PROVIDER_SCHEMES or value.endswith("://"):
        raise ConfigurationError(f"{where}={value!r} is not a secrets provider; {fix}")
    if scheme == "gcpkms" and not _GCPKMS_RE.match(value):
        raise ConfigurationError(
            f"{where}={value!r} is not a Cloud KMS key name; use "
            "gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K"
        )
    return value


def _secret_text(value: Any, *, where: str) -> str | None:
    # Never echo the value: it is a credential, and it may be a near miss of the real one.
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"{where} must be a string")
    if value != value.strip() or any(c in value for c in "\r\n\t"):
        raise ConfigurationError(
            f"{where} has leading/trailing whitespace or a line break (a copy-paste slip?); store the value "
            "without it"
        )
    return value


@dataclass(frozen=True)
class PulumiConnection:
    """A parsed and validated ``pulumi`` connection.

    :param conn_id: the connection id.
    :param backend_url: the state backend, or ``None`` (then the usual defaults apply).
    :param organization: the Pulumi Cloud organization, or ``None``.
    :param access_token: the Pulumi Cloud access token, or ``None``.
    :param secrets_provider: ``passphrase``, a KMS URL, or ``None`` (the backend's default).
    :param config_passphrase: the passphrase, or ``None``.
    """

    conn_id: str
    backend_url: BackendUrl | None = None
    organization: str | None = None
    access_token: str | None = field(default=None, repr=False)
    secrets_provider: str | None = None
    config_passphrase: str | None = field(default=None, repr=False)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The sensitive values, to register with the secret masker."""
        return tuple(v for v in (self.access_token, self.config_passphrase) if v)


# -- reading any connection's extras -----------------------------------------------------------------


def connection_extra(extras: Mapping[str, Any], name: str, prefix: str) -> Any:
    """An extra by its plain name, else by Airflow's older ``extra__<type>__<name>`` form; ``""`` is unset.

    The same precedence as Airflow's own hooks (``GoogleBaseHook._get_field``).

    :param extras: the connection's ``extra_dejson``.
    :param name: the plain name.
    :param prefix: ``extra__<conn type>__``.
    """
    value = extras.get(name)
    if value not in (None, ""):
        return value
    value = extras.get(prefix + name)
    return None if value == "" else value


@dataclass(frozen=True)
class ConnectionExtras:
    """The extras of a connection of type *conn_type*, read by name (see :func:`connection_extra`).

    :param values: the extras (``extra_dejson``).
    :param conn_type: the connection type, which names the older prefixed form of each extra.
    """

    values: Mapping[str, Any] = field(repr=False)  # extras may hold secrets
    conn_type: str

    @property
    def prefix(self) -> str:
        """``extra__<conn type>__``."""
        return f"extra__{self.conn_type}__"

    def get(self, name: str) -> Any:
        """The extra *name*, plain or prefixed (the plain one wins); ``None`` when unset or ``""``.

        :param name: the plain name.
        """
        return connection_extra(self.values, name, self.prefix)

    def unknown(self, known: Iterable[str]) -> list[str]:
        """The keys, sorted, that are neither a *known* name nor its prefixed form.

        :param known: the plain names understood.
        """
        names = set(known)
        return sorted(
            k for k in self.values
            if k not in names and not (k.startswith(self.prefix) and k[len(self.prefix):] in names)
        )


# -- the pulumi connection's fields --------------------------------------------------------------------


def parse_connection(
    *,
    conn_id: str,
    conn_type: str | None = CONN_TYPE,
    host: str | None = None,
    login: str | None = None,
    password: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> PulumiConnection:
    """Validate a ``pulumi`` connection's fields (no Airflow needed).

    :param conn_id: the connection id, named in every error.
    :param conn_type: must be ``pulumi``.
    :param host: the backend URL.
    :param login: the organization.
    :param password: the access token.
    :param extra: the extras (``extra_dejson``).
    :raises ConfigurationError: naming the connection, the field and the fix.
    """
    where = f"Airflow connection {conn_id!r}"
    if conn_type and conn_type.replace("-", "_") != CONN_TYPE:
        raise ConfigurationError(
            f"{where} has type {conn_type!r}; expected {CONN_TYPE!r} (create it as a Pulumi connection)"
        )
    extras = ConnectionExtras(dict(extra or {}), CONN_TYPE)
    _check_extra_names(extras, where)
    backend = _backend_url(host, extras, where)
    organization = _organization(login, backend, where)
    token = _secret_text(password, where=f"{where} field 'password' (Access token)")
    provider, passphrase = _secrets_provider(extras, where)
    return PulumiConnection(
        conn_id=conn_id,
        backend_url=backend,
        organization=organization,
        access_token=token,
        secrets_provider=provider,
        config_passphrase=passphrase,
    )


def _check_extra_names(extras: ConnectionExtras, where: str) -> None:
    unknown = extras.unknown(KNOWN_EXTRAS)
    if unknown:
        raise ConfigurationError(
            f"{where} has unknown extra field(s) {unknown}; known: {', '.join(KNOWN_EXTRAS)}. Stack config "
            "belongs in Environment(config=..., secret_config=...), not in the connection."
        )


def _backend_url(host: str | None, extras: ConnectionExtras, where: str) -> BackendUrl | None:
    """The backend from field ``host``, else extra ``backend_url`` (connections stored as URIs have no host)."""
    host_value = host.strip() if isinstance(host, str) else host
    extra_backend = extras.get("backend_url")
    if host_value and extra_backend and host_value != str(extra_backend).strip():
        raise ConfigurationError(
            f"{where} sets both field 'host' (Backend URL) and extra 'backend_url' to different URLs; keep one"
        )
    if host_value:
        return BackendUrl(validate_backend_url(host_value, where=f"{where} field 'host' (Backend URL)"))
    if extra_backend:
        return BackendUrl(validate_backend_url(extra_backend, where=f"{where} extra 'backend_url'"))
    return None


def _organization(login: str | None, backend: BackendUrl | None, where: str) -> str | None:
    organization = login.strip() if isinstance(login, str) and login.strip() else None
    if organization is None:
        return None
    if not _ORG_RE.match(organization):
        raise ConfigurationError(
            f"{where} field 'login' (Organization)={organization!r} is not a Pulumi organization name; "
            "use letters, digits, '-', '_' or '.'"
        )
    if backend is not None and backend.kind != "cloud":
        raise ConfigurationError(
            f"{where} field 'login' (Organization) is set, but backend {backend.url!r} is not Pulumi Cloud; "
            "organizations exist only on https:// backends. Clear the field or change 'host'."
        )
    return organization


def _secrets_provider(extras: ConnectionExtras, where: str) -> tuple[str | None, str | None]:
    """The secrets provider and its passphrase, if any (a passphrase belongs to the passphrase provider only)."""
    name = _provider_extra_name(extras, where)
    provider = validate_secrets_provider(extras.get(name), where=f"{where} extra {name!r}")
    passphrase = _secret_text(extras.get("config_passphrase"), where=f"{where} extra 'config_passphrase'")
    if passphrase is not None and provider not in (None, "passphrase"):
        raise ConfigurationError(
            f"{where} extra 'config_passphrase' is set but extra {name!r} is {provider!r}; the "
            "passphrase is only used by the passphrase provider. Remove one of them."
        )
    return provider, passphrase


def _provider_extra_name(extras: ConnectionExtras, where: str) -> str:
    """The extra that names the secrets provider: ``encryption_provider``, or the deprecated ``secrets_provider``
    (with a ``FutureWarning``); both set to different values is an error."""
    old = extras.get(OLD_PROVIDER_EXTRA)
    if old is None:
        return PROVIDER_EXTRA
    new = extras.get(PROVIDER_EXTRA)
    if new is not None and str(new).strip() != str(old).strip():
        raise ConfigurationError(
            f"{where} sets both extra {PROVIDER_EXTRA!r} and its deprecated name {OLD_PROVIDER_EXTRA!r}, to "
            f"different values; keep {PROVIDER_EXTRA!r} only"
        )
    import warnings

    warnings.warn(
        f"{where} extra {OLD_PROVIDER_EXTRA!r} is deprecated: Airflow shows its value as *** (the name contains "
        f"'secret'), so it cannot be checked in the connection form. Rename it to {PROVIDER_EXTRA!r} (the same "
        "value); the old name is still read for now",
        FutureWarning,
        stacklevel=2,
    )
    return PROVIDER_EXTRA if new is not None else OLD_PROVIDER_EXTRA


# -- reading a connection through Airflow (at task start only) -------------------------------------------


@dataclass(frozen=True)
class ConnectionFields:
    """An Airflow connection's fields as read at task start, its extras checked to be a JSON object.

    :param conn_id: the connection id.
    :param conn_type: its type.
    :param host: field ``host``.
    :param login: field ``login``.
    :param password: field ``password``.
    :param extra: the extras.
    """

    conn_id: str
    conn_type: str | None
    host: str | None
    login: str | None
    password: str | None = field(repr=False)
    extra: Mapping[str, Any] = field(repr=False)


def read_connection(
    conn_id: str, *, missing_hint: str, setting: str | None = None, expected_type: str | None = None
) -> ConnectionFields:
    """Read an Airflow connection and its extras through ``airflow.sdk`` (call at task start only).

    :param conn_id: the connection id.
    :param missing_hint: how to fix a connection that does not exist.
    :param setting: where the id came from, named in the error.
    :param expected_type: the connection type it must have, if any.
    :raises ConfigurationError: when it does not exist, has another type, or its extras are not a JSON object.
    """
    conn = fetch_connection(conn_id, missing_hint=missing_hint, setting=setting, expected_type=expected_type)
    return ConnectionFields(
        conn_id=conn_id,
        conn_type=conn.conn_type,
        host=conn.host,
        login=conn.login,
        password=conn.password,
        extra=connection_extras(conn, conn_id),
    )


def fetch_connection(
    conn_id: str, *, missing_hint: str, setting: str | None = None, expected_type: str | None = None
) -> Any:
    """Read an Airflow connection through ``airflow.sdk`` (imported here: call at task start only).

    :param conn_id: the connection id.
    :param missing_hint: how to fix a connection that does not exist.
    :param setting: where the id came from, named in the error.
    :param expected_type: the connection type it must have, if any.
    :raises ConfigurationError: when it does not exist or has another type.
    """
    from airflow.sdk import BaseHook

    from airflow_pulumi_decorators._airflow import not_found_exception

    AirflowNotFoundException = not_found_exception()  # noqa: N806 - a class

    origin = f" (from {setting})" if setting else ""
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise ConfigurationError(f"Airflow connection {conn_id!r}{origin} is not defined; {missing_hint}") from None
    if expected_type and conn.conn_type and conn.conn_type.replace("-", "_") != expected_type:
        raise ConfigurationError(
            f"Airflow connection {conn_id!r}{origin} has type {conn.conn_type!r}; expected {expected_type!r}."
        )
    return conn


def connection_extras(conn: Any, conn_id: str) -> Mapping[str, Any]:
    """A connection's extras as a mapping; malformed JSON is an error with its position, never ``{}``.

    (``Connection.extra_dejson`` logs bad JSON and returns an empty dict, which would make every extra
    silently fall back to its default.) The extra's text is never quoted: it may hold a secret.

    :param conn: the Airflow connection.
    :param conn_id: its id, named in the error.
    :raises ConfigurationError: naming the connection, field ``extra``, line and column.
    """
    import json

    text = getattr(conn, "extra", None)
    if isinstance(text, str) and text.strip():
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(
                f"Airflow connection {conn_id!r} field 'extra' is not valid JSON: {exc.msg} at line {exc.lineno} "
                f"column {exc.colno}; fix it in the connection (UI, `airflow connections add --conn-extra`, the "
                f"secrets backend or AIRFLOW_CONN_{conn_id.upper()})"
            ) from None
    try:
        extra = conn.extra_dejson or {}
    except Exception:  # noqa: BLE001 - Airflow raises various errors for unparsable extras
        extra = None
    if not isinstance(extra, Mapping):
        raise ConfigurationError(
            f"Airflow connection {conn_id!r} field 'extra' must be a JSON object ({{\"key\": \"value\", ...}}), "
            f"got {type(extra).__name__}"
        )
    return extra


def get_pulumi_connection(conn_id: str, *, setting: str = "pulumi_conn_id") -> PulumiConnection:
    """Read and validate connection ``conn_id`` through ``airflow.sdk``. Call at task start only.

    :param conn_id: the connection id.
    :param setting: where the id came from, named when the connection does not exist.
    :raises ConfigurationError: when it does not exist or is invalid.
    """
    fields = read_connection(
        conn_id,
        missing_hint=f"create it with type {CONN_TYPE!r} (UI, `airflow connections add`, a secrets backend, "
        f"or AIRFLOW_CONN_{conn_id.upper()}) or fix {setting}",
        setting=setting,
    )
    return parse_connection(
        conn_id=conn_id,
        conn_type=fields.conn_type,
        host=fields.host,
        login=fields.login,
        password=fields.password,
        extra=fields.extra,
    )
