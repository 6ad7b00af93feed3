"""Identities described by an Airflow ``google_cloud_platform`` connection, resolved at task start.

Works without ``apache-airflow-providers-google``: the connection is read by
:func:`airflow_pulumi_decorators.connections.read_connection` (``airflow.sdk`` is imported only then);
this module turns its extras into an identity. The extras understood are those of Airflow's
``GoogleBaseHook``, plain or ``extra__google_cloud_platform__``-prefixed (the plain name wins when both are set):

``credential_config_file``
    an ``external_account`` configuration: a path, a JSON string or a JSON object →
    :class:`WorkloadIdentityFederation`. Without it the source is :class:`ApplicationDefault`, as in
    Airflow's hooks (on GKE that is the metadata server).
``impersonation_chain``
    an e-mail, a comma-separated string or a list; wraps the source in
    :class:`ServiceAccountImpersonation` (last = target, the rest = delegates).
``iam_endpoint`` (ours, not ``GoogleBaseHook``'s)
    the IAM Credentials endpoint for impersonation, e.g. a Private Service Connect address.
``scope``
    comma-separated OAuth scopes (default ``cloud-platform``).
``project``
    the default project, used when the environment sets none.
``quota_project_id``
    passed to :class:`ApplicationDefault`.

``key_path``, ``keyfile_dict`` and ``key_secret_name`` are refused: this library uses keyless
identities only.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_pulumi_decorators.connections import ConnectionExtras, read_connection
from airflow_pulumi_decorators.errors import ConfigurationError
from airflow_pulumi_decorators.identity.adc import ApplicationDefault
from airflow_pulumi_decorators.identity.base import DEFAULT_SCOPES, Identity, normalize_scopes
from airflow_pulumi_decorators.identity.engine_env import EngineEnv, ImpersonationOnTop
from airflow_pulumi_decorators.identity.federation import WorkloadIdentityFederation
from airflow_pulumi_decorators.identity.impersonation import ServiceAccountImpersonation
from airflow_pulumi_decorators.identity.metadata import GkeMetadataServer

if TYPE_CHECKING:  # pragma: no cover
    import google.auth.credentials

CONN_TYPE = "google_cloud_platform"
_KEY_EXTRAS = ("key_path", "keyfile_dict", "key_secret_name", "key_secret_project_id")


class ConnectionIdentity(NamedTuple):
    """What a connection resolves to: the identity and the connection's default project."""

    identity: Identity
    project: str | None


def identity_from_extras(extras: Mapping[str, Any], *, conn_id: str = "<extras>") -> ConnectionIdentity:
    """Turn a ``google_cloud_platform`` connection's extras into an identity (no Airflow needed).

    :param extras: the connection's ``extra_dejson``.
    :param conn_id: the connection id, for messages.
    :raises ConfigurationError: on key-file extras or malformed values, naming the connection.
    """
    where = f"connection {conn_id!r}"
    extra = ConnectionExtras(extras, CONN_TYPE)
    _refuse_key_files(extra, where)
    scopes = _scopes(extra, where)
    source = _source(extra, scopes, where)
    identity = _with_impersonation_chain(extra, source, scopes, where)
    project = extra.get("project")
    if project is not None and not isinstance(project, str):
        raise ConfigurationError(f"{where}: extra 'project' must be a project id string, got {project!r}.")
    return ConnectionIdentity(identity, project or None)


def _refuse_key_files(extra: ConnectionExtras, where: str) -> None:
    for key in _KEY_EXTRAS:
        if extra.get(key):
            raise ConfigurationError(
                f"{where} sets {key!r}: service-account keys are refused, this library uses keyless "
                f"identities only. Remove {key!r} and set 'credential_config_file' (workload identity "
                f"federation) and/or 'impersonation_chain', or rely on the worker's metadata server."
            )


def _scopes(extra: ConnectionExtras, where: str) -> tuple[str, ...]:
    scope = extra.get("scope")
    try:
        return normalize_scopes(scope, owner=where, param="scope") if scope else DEFAULT_SCOPES
    except ConfigurationError as exc:
        raise ConfigurationError(f"{exc} Fix the 'scope' extra (comma-separated scope URLs).") from None


def _source(extra: ConnectionExtras, scopes: tuple[str, ...], where: str) -> Identity:
    """Federation when there is a ``credential_config_file``, else the worker's application default credentials."""
    config = extra.get("credential_config_file")
    try:
        if config is None:
            return ApplicationDefault(scopes=scopes, quota_project_id=extra.get("quota_project_id") or None)
        if isinstance(config, Mapping):
            return WorkloadIdentityFederation(dict(config), scopes=scopes)
        if isinstance(config, str):
            # A JSON string is parsed, anything else is a path read at task start.
            return WorkloadIdentityFederation(config, scopes=scopes)
        raise ConfigurationError("must be a path, a JSON string or a JSON object")
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: extra 'credential_config_file' is not usable: {exc}") from None


def _with_impersonation_chain(
    extra: ConnectionExtras, source: Identity, scopes: tuple[str, ...], where: str
) -> Identity:
    """*source* wrapped in the ``impersonation_chain``; *source* itself when the connection has none."""
    chain = extra.get("impersonation_chain")
    if not chain:
        return source
    if isinstance(chain, str):
        chain = [c for c in re.split(r"[,\s]+", chain) if c]
    try:
        iam_endpoint = extra.get("iam_endpoint")
        kwargs = {"iam_endpoint": iam_endpoint} if iam_endpoint else {}
        return ServiceAccountImpersonation.from_impersonation_chain(chain, source=source, scopes=scopes, **kwargs)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: extra 'impersonation_chain' is not usable: {exc}") from None


def resolve_connection(conn_id: str) -> ConnectionIdentity:
    """Read *conn_id* through ``airflow.sdk`` and turn it into an identity. Call at task start.

    :param conn_id: the connection id.
    :raises ConfigurationError: if the connection does not exist or is not ``google_cloud_platform``.
    """
    fields = read_connection(
        conn_id,
        missing_hint=f"create it (type {CONN_TYPE!r}) or fix the conn_id passed to identity_from_connection().",
        expected_type=CONN_TYPE,
    )
    return identity_from_extras(fields.extra, conn_id=conn_id)


@dataclass(frozen=True)
class FromConnection(Identity, reads_connection=True):
    """A lazy identity: the ``google_cloud_platform`` connection *conn_id*, read at task start.

    Connections live in the metadata database or a secrets backend, which the DAG processor should
    not touch at parse time; only the id is checked then.

    :param conn_id: the Airflow connection id.
    :param kind: the identity class the connection must resolve to (``X.from_connection``); ``None``
        accepts whatever the connection describes.
    """

    conn_id: str
    kind: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.conn_id, str) or not self.conn_id.strip():
            raise ConfigurationError("identity_from_connection(conn_id=...) must be a non-empty connection id.")
        object.__setattr__(self, "conn_id", self.conn_id.strip())
        if self.kind is not None and self.kind not in _KINDS:
            raise ConfigurationError(
                f"{self.kind}.from_connection() is not supported; use one of "
                f"{', '.join(sorted(_KINDS))}.from_connection() or identity_from_connection()."
            )

    def describe(self) -> str:
        return f"Airflow connection {self.conn_id!r}"

    def resolve_with_project(self) -> ConnectionIdentity:
        """Resolve and also return the connection's ``project`` extra."""
        resolved = resolve_connection(self.conn_id)
        if self.kind is None:
            return resolved
        return ConnectionIdentity(_as_kind(resolved.identity, self.kind, self.conn_id), resolved.project)

    def resolve(self) -> Identity:
        return self.resolve_with_project().identity

    def google_credentials(self) -> google.auth.credentials.Credentials:
        return self.resolve().google_credentials()

    def principal(self, credentials: google.auth.credentials.Credentials) -> str:
        return self.resolve().principal(credentials)

    def check_refreshable(
        self, *, read_files: bool = True, impersonated_by: ImpersonationOnTop | None = None
    ) -> None:
        # What the connection describes is known at task start, where its resolved identity is checked.
        return

    def refreshable_env(self, *, impersonated_by: ImpersonationOnTop | None = None) -> EngineEnv:
        resolved = self.resolve()
        resolved.check_refreshable(impersonated_by=impersonated_by)
        return resolved.refreshable_env(impersonated_by=impersonated_by)


# `type`, not `type[Identity]`: mypy would read `isinstance(identity, _KINDS[kind])` as always true.
_KINDS: dict[str, type] = {
    "ApplicationDefault": ApplicationDefault,
    "GkeMetadataServer": GkeMetadataServer,
    "ServiceAccountImpersonation": ServiceAccountImpersonation,
    "WorkloadIdentityFederation": WorkloadIdentityFederation,
}


def _as_kind(identity: Identity, kind: str, conn_id: str) -> Identity:
    """Check (or, for the metadata server, make) the resolved identity the kind the DAG asked for."""
    if isinstance(identity, _KINDS[kind]):
        return identity
    source = getattr(identity, "source", None)
    if kind == "GkeMetadataServer":
        # Without a credential file a connection means "the worker's own credential"; asking for the
        # metadata server explicitly makes that GKE's metadata server, never a local ADC file.
        if isinstance(identity, ApplicationDefault):
            return GkeMetadataServer(scopes=identity.scopes)
        if isinstance(identity, ServiceAccountImpersonation) and isinstance(source, ApplicationDefault):
            return dataclasses.replace(identity, source=GkeMetadataServer(scopes=source.scopes))
    elif isinstance(source, _KINDS[kind]):
        return identity  # e.g. federation wrapped by the connection's impersonation_chain
    raise ConfigurationError(
        f"Airflow connection {conn_id!r} describes {identity.describe()}, not a {kind}; "
        f"use identity_from_connection({conn_id!r}) or fix the connection's extras."
    )


def identity_from_connection(conn_id: str) -> FromConnection:
    """The identity described by Airflow connection *conn_id* (type ``google_cloud_platform``),
    resolved lazily at task start. See this module's docstring for the extras understood."""
    return FromConnection(conn_id)
