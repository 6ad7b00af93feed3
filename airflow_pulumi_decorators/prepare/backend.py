"""Where a run's state lives and how the engine reaches it: the ``pulumi`` connection, the backend URL, the
secrets provider and the variables that carry the access token and passphrase, the stack name to select.

Resolved when the task starts, never when the DAG is parsed. Everything sensitive (access token,
passphrase) reaches the engine only through its environment and is registered with the secret masker.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from airflow_pulumi_decorators import settings
from airflow_pulumi_decorators.backend_url import BackendUrl, validate_backend_url
from airflow_pulumi_decorators.cli import plugins_dir
from airflow_pulumi_decorators.connections import PulumiConnection, get_pulumi_connection
from airflow_pulumi_decorators.engine.request import RunContext, passphrase_source
from airflow_pulumi_decorators.environments import Environment
from airflow_pulumi_decorators.errors import ConfigurationError
from airflow_pulumi_decorators.names import DIY_ORGANIZATION
from airflow_pulumi_decorators.prepare.home import pulumi_home

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolvedBackend:
    """Where one task's engine works.

    :param stack: the stack name to select, fully qualified when the backend needs it.
    :param context: what the engine gets: backend, ``PULUMI_HOME``, secrets provider, environment.
    :param conn_id: the ``pulumi`` connection used, if any.
    """

    stack: str
    context: RunContext
    conn_id: str | None = None


def _connection_id(environment: Environment, task_conn_id: str | None) -> tuple[str | None, str]:
    if environment.pulumi_conn_id:
        return environment.pulumi_conn_id, "Environment(pulumi_conn_id=...)"
    if task_conn_id:
        return task_conn_id, "the task's pulumi_conn_id"
    return settings.default_conn_id(), "[pulumi] default_conn_id (AIRFLOW__PULUMI__DEFAULT_CONN_ID)"


def resolve_backend(
    environment: Environment, conn: PulumiConnection | None, environ: Mapping[str, str]
) -> BackendUrl:
    """The backend URL, validated and named by where it came from (first match wins).

    :param environment: the run's environment.
    :param conn: its ``pulumi`` connection, if any.
    :param environ: the worker's environment.
    """
    if environment.backend_url:
        return BackendUrl(validate_backend_url(environment.backend_url, where="Environment(backend_url=...)"))
    if conn is not None and conn.backend_url is not None:
        return conn.backend_url  # validated when parsed
    if environ.get("PULUMI_BACKEND_URL"):
        return BackendUrl(
            validate_backend_url(environ["PULUMI_BACKEND_URL"], where="PULUMI_BACKEND_URL on the worker")
        )
    configured = settings.get_option("backend_url")
    if configured:
        return BackendUrl(
            validate_backend_url(configured, where="[pulumi] backend_url (AIRFLOW__PULUMI__BACKEND_URL)")
        )
    return BackendUrl(settings.embedded_backend_url())


def qualify_stack(stack: str, *, kind: str, organization: str | None, project: str | None = None) -> str:
    """The stack name to select: fully qualified (``org/project/stack``) on Pulumi Cloud when possible.

    :param stack: ``name``, ``org/name`` or ``org/project/name``.
    :param kind: the backend's :attr:`~airflow_pulumi_decorators.backend_url.BackendUrl.kind`.
    :param organization: the connection's organization, if any.
    :param project: the task's Pulumi project, if known.
    :raises ConfigurationError: when the parts contradict the connection or the project.
    """
    parts = stack.split("/")
    if len(parts) == 3 and project and parts[1] != project:
        raise ConfigurationError(
            f"stack {stack!r} names project {parts[1]!r}, but the task's project is {project!r}; fix the stack "
            "name or the 'project' argument"
        )
    if kind != "cloud":
        if len(parts) > 1 and parts[0] != DIY_ORGANIZATION:
            raise ConfigurationError(
                f"stack {stack!r}: file and bucket backends only accept the organization "
                f"{DIY_ORGANIZATION!r} in a qualified stack name; use {parts[-1]!r} or "
                f"'{DIY_ORGANIZATION}/.../{parts[-1]}', or a Pulumi Cloud backend"
            )
        return stack
    if len(parts) > 1 and organization and parts[0] != organization:
        raise ConfigurationError(
            f"stack {stack!r} names organization {parts[0]!r}, but its pulumi connection's field 'login' "
            f"(Organization) is {organization!r}; make them agree"
        )
    org = parts[0] if len(parts) > 1 else organization
    name = parts[-1]
    if org is None:
        return stack  # Pulumi uses the token's default organization
    if len(parts) == 3:
        return stack
    return f"{org}/{project}/{name}" if project else f"{org}/{name}"


def connection(
    environment: Environment,
    task_conn_id: str | None,
    *,
    mask: Callable[[str], None],
    environ: Mapping[str, str],
) -> tuple[str | None, PulumiConnection | None]:
    """The run's ``pulumi`` connection: ``environment.pulumi_conn_id``, else the task's, else
    ``[pulumi] default_conn_id``; none is fine. Its secrets, and the worker's own Pulumi secrets, are masked.

    :return: ``(connection id, parsed connection)``, ``(None, None)`` without one.
    """
    conn_id, source = _connection_id(environment, task_conn_id)
    conn = get_pulumi_connection(conn_id, setting=source) if conn_id else None
    for secret in conn.secrets if conn else ():
        mask(secret)
    for name in ("PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE"):
        if environ.get(name):
            mask(environ[name])  # the worker's own, in case the engine ever echoes it
    return conn_id, conn


def _access_token(
    conn: PulumiConnection | None, conn_id: str | None, url: BackendUrl, environ: Mapping[str, str], strategy: str
) -> dict[str, str | None]:
    if conn is not None and conn.access_token:
        return {"PULUMI_ACCESS_TOKEN": conn.access_token}
    if url.kind == "cloud" and not environ.get("PULUMI_ACCESS_TOKEN") and strategy == "per_task":
        # A `pulumi login` on the worker lives in ~/.pulumi, which a per-task PULUMI_HOME does not see.
        raise ConfigurationError(
            f"backend {url.url!r} is Pulumi Cloud and no access token is set: set field 'password' (Access "
            f"token) of the pulumi connection{f' {conn_id!r}' if conn_id else ''}, or PULUMI_ACCESS_TOKEN on "
            "the worker ([pulumi] pulumi_home=per_task does not see a `pulumi login` in ~/.pulumi)"
        )
    return {}


def _passphrase(
    conn: PulumiConnection | None, conn_id: str | None, url: BackendUrl, environ: Mapping[str, str]
) -> dict[str, str | None]:
    if conn is None:
        return {}
    if conn.config_passphrase:
        # The connection's passphrase, not a file on the worker.
        return {"PULUMI_CONFIG_PASSPHRASE": conn.config_passphrase, "PULUMI_CONFIG_PASSPHRASE_FILE": None}
    provider = conn.secrets_provider
    uses_passphrase = provider == "passphrase" or (provider is None and url.kind != "cloud")
    worker_has_one = environ.get("PULUMI_CONFIG_PASSPHRASE") or environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if uses_passphrase and not worker_has_one:
        # Fail before the engine starts, naming the connection (the engine's own error names only the variable).
        raise ConfigurationError(
            f"Airflow connection {conn_id!r} uses the passphrase secrets provider on {url.url!r} but no "
            "passphrase is set: set its extra 'config_passphrase', or PULUMI_CONFIG_PASSPHRASE(_FILE) on "
            "the worker, or a KMS extra 'encryption_provider'"
        )
    return {}


def _note_worker_google_credentials(environment: Environment, url: BackendUrl, secrets_provider: str | None) -> None:
    if (url.scheme == "gs" or (secrets_provider or "").startswith("gcpkms://")) and not environment.identity:
        log.info(
            "pulumi: %s uses the worker's Google credentials (ADC); give the Environment an identity to use "
            "a short-lived token instead",
            "the gs:// backend" if url.scheme == "gs" else "the gcpkms:// secrets provider",
        )


@contextlib.contextmanager
def resolve(
    environment: Environment,
    *,
    pulumi_conn_id: str | None = None,
    mask: Callable[[str], None] = lambda _: None,
    project: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Iterator[ResolvedBackend]:
    """Connection → backend → ``PULUMI_HOME``: where the run's engine works; cleans up what it made.

    :param environment: the run's environment.
    :param pulumi_conn_id: the task's default ``pulumi`` connection (the environment's wins).
    :param mask: registers a sensitive value with Airflow's secret masker.
    :param project: the task's Pulumi project, to fully qualify Pulumi Cloud stack names.
    :param environ: the worker's environment (default ``os.environ``).
    :raises ConfigurationError: a bad connection, setting or stack name; the message names it.
    """
    environ = os.environ if environ is None else environ
    conn_id, conn = connection(environment, pulumi_conn_id, mask=mask, environ=environ)
    url = resolve_backend(environment, conn, environ)
    strategy = settings.pulumi_home_strategy()
    env = {**_access_token(conn, conn_id, url, environ, strategy), **_passphrase(conn, conn_id, url, environ)}
    secrets_provider = conn.secrets_provider if conn else None
    _note_worker_google_credentials(environment, url, secrets_provider)
    stack = qualify_stack(
        environment.stack, kind=url.kind, organization=conn.organization if conn else None, project=project
    )
    with pulumi_home(strategy) as (home, _cache):
        context = RunContext(
            backend=url,
            extra_env=env,
            pulumi_home=home,
            secrets_provider=secrets_provider,
            passphrase_source=passphrase_source(env, environ),
            plugins_dir=plugins_dir({**environ, **({"PULUMI_HOME": home} if home else {})}),
        )
        yield ResolvedBackend(stack=stack, context=context, conn_id=conn_id)
