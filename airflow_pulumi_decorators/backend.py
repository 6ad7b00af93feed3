"""Where a run's state lives and how the engine reaches it: backend URL, secrets provider, PULUMI_HOME.

Resolved when the task starts, never when the DAG is parsed. Everything sensitive (access token,
passphrase) reaches the engine only through its environment and is registered with the secret masker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
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

log = logging.getLogger(__name__)

HOMES_SUBDIR = "homes"


@dataclass(frozen=True)
class EngineSettings:
    """How the engine runs for one task.

    :param stack: the stack name to select, fully qualified when the backend needs it.
    :param context: what the engine gets: backend, ``PULUMI_HOME``, secrets provider, environment.
    :param conn_id: the ``pulumi`` connection used, if any.
    :param plugin_cache_dir: the shared plugin cache the per-task ``PULUMI_HOME`` links to, if any.
    :param refresh: ``[pulumi] refresh_before_up``: run ``up --refresh``.
    """

    stack: str
    context: RunContext
    conn_id: str | None = None
    plugin_cache_dir: str | None = None
    refresh: bool = False

    @property
    def backend_url(self) -> str:
        """The state backend, as logs and the summary name it."""
        return self.context.backend_text

    @property
    def env(self) -> Mapping[str, str | None]:
        """Every variable the engine gets (``None`` removes an inherited one)."""
        return self.context.env

    @property
    def secrets_provider(self) -> str | None:
        return self.context.secrets_provider

    @property
    def pulumi_home(self) -> str | None:
        return self.context.pulumi_home


def _connection_id(environment: Environment, task_conn_id: str | None) -> tuple[str | None, str]:
    if environment.pulumi_conn_id:
        return environment.pulumi_conn_id, "Environment(pulumi_conn_id=...)"
    if task_conn_id:
        return task_conn_id, "the task's pulumi_conn_id"
    return settings.default_conn_id(), "[pulumi] default_conn_id (AIRFLOW__PULUMI__DEFAULT_CONN_ID)"


def resolve_backend(
    environment: Environment, conn: PulumiConnection | None, environ: Mapping[str, str]
) -> str:
    """The backend URL, validated and named by where it came from (first match wins).

    :param environment: the run's environment.
    :param conn: its ``pulumi`` connection, if any.
    :param environ: the worker's environment.
    """
    if environment.backend_url:
        return validate_backend_url(environment.backend_url, where="Environment(backend_url=...)")
    if conn is not None and conn.backend_url:
        return conn.backend_url  # validated when parsed
    if environ.get("PULUMI_BACKEND_URL"):
        return validate_backend_url(environ["PULUMI_BACKEND_URL"], where="PULUMI_BACKEND_URL on the worker")
    configured = settings.get_option("backend_url")
    if configured:
        return validate_backend_url(configured, where="[pulumi] backend_url (AIRFLOW__PULUMI__BACKEND_URL)")
    return settings.embedded_backend_url()


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


@contextlib.contextmanager
def _pulumi_home(strategy: str) -> Iterator[tuple[str | None, str | None]]:
    """Yield ``(PULUMI_HOME, plugin cache)`` for a task; a per-task home is removed afterwards."""
    if strategy != "per_task":
        yield None, None
        return
    root = os.path.join(settings.worker_dir(), HOMES_SUBDIR)
    cache = settings.plugin_cache_dir()
    os.makedirs(root, exist_ok=True)
    os.makedirs(cache, exist_ok=True)
    home = tempfile.mkdtemp(prefix="task-", dir=root)  # 0700: nothing else on the worker reads it
    link = os.path.join(home, "plugins")
    try:
        # Workspace state stays private to the task; plugins are shared (installed once per worker).
        os.symlink(cache, link)
        log.info("pulumi: PULUMI_HOME=%s (per task; plugins shared in %s)", home, cache)
        yield home, cache
    finally:
        with contextlib.suppress(OSError):
            os.unlink(link)  # first, so removing the home can never reach into the shared cache
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def engine_settings(
    environment: Environment,
    *,
    pulumi_conn_id: str | None = None,
    mask: Callable[[str], None] = lambda _: None,
    project: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Iterator[EngineSettings]:
    """Resolve the engine settings for an environment; cleans up anything made for the run.

    The connection is ``environment.pulumi_conn_id``, else ``pulumi_conn_id``, else
    ``[pulumi] default_conn_id``; none is fine (then ``PULUMI_*`` on the worker and the defaults apply).

    :param environment: the run's environment.
    :param pulumi_conn_id: the task's default ``pulumi`` connection (the environment's wins).
    :param mask: registers a sensitive value with Airflow's secret masker.
    :param project: the task's Pulumi project, to fully qualify Pulumi Cloud stack names.
    :param environ: the worker's environment (default ``os.environ``).
    :raises ConfigurationError: a bad connection, setting or stack name; the message names it.
    """
    environ = os.environ if environ is None else environ
    conn_id, source = _connection_id(environment, pulumi_conn_id)
    conn = get_pulumi_connection(conn_id, setting=source) if conn_id else None
    for secret in conn.secrets if conn else ():
        mask(secret)
    for name in ("PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE"):
        if environ.get(name):
            mask(environ[name])  # the worker's own, in case the engine ever echoes it

    backend = resolve_backend(environment, conn, environ)
    url = BackendUrl(backend)
    kind = url.kind
    strategy = settings.pulumi_home_strategy()
    env: dict[str, str | None] = {}

    if conn is not None and conn.access_token:
        env["PULUMI_ACCESS_TOKEN"] = conn.access_token
    elif kind == "cloud" and not environ.get("PULUMI_ACCESS_TOKEN") and strategy == "per_task":
        # A `pulumi login` on the worker lives in ~/.pulumi, which a per-task PULUMI_HOME does not see.
        raise ConfigurationError(
            f"backend {backend!r} is Pulumi Cloud and no access token is set: set field 'password' (Access "
            f"token) of the pulumi connection{f' {conn_id!r}' if conn_id else ''}, or PULUMI_ACCESS_TOKEN on "
            "the worker ([pulumi] pulumi_home=per_task does not see a `pulumi login` in ~/.pulumi)"
        )

    secrets_provider = conn.secrets_provider if conn else None
    if conn is not None and conn.config_passphrase:
        env["PULUMI_CONFIG_PASSPHRASE"] = conn.config_passphrase
        env["PULUMI_CONFIG_PASSPHRASE_FILE"] = None  # the connection's passphrase, not a file on the worker
    elif (
        conn is not None
        and (secrets_provider == "passphrase" or (secrets_provider is None and kind != "cloud"))
        and not (environ.get("PULUMI_CONFIG_PASSPHRASE") or environ.get("PULUMI_CONFIG_PASSPHRASE_FILE"))
    ):
        # Fail before the engine starts, naming the connection (the engine's own error names only the variable).
        raise ConfigurationError(
            f"Airflow connection {conn_id!r} uses the passphrase secrets provider on {backend!r} but no "
            "passphrase is set: set its extra 'config_passphrase', or PULUMI_CONFIG_PASSPHRASE(_FILE) on "
            "the worker, or a KMS extra 'secrets_provider'"
        )

    if (url.scheme == "gs" or (secrets_provider or "").startswith("gcpkms://")) and not environment.identity:
        log.info(
            "pulumi: %s uses the worker's Google credentials (ADC); give the Environment an identity to use "
            "a short-lived token instead",
            "the gs:// backend" if url.scheme == "gs" else "the gcpkms:// secrets provider",
        )

    stack = qualify_stack(
        environment.stack, kind=kind, organization=conn.organization if conn else None, project=project
    )
    with _pulumi_home(strategy) as (home, cache):
        context = RunContext(
            backend=url,
            extra_env=env,
            pulumi_home=home,
            secrets_provider=secrets_provider,
            passphrase_source=passphrase_source(env, environ),
            plugins_dir=plugins_dir({**environ, **({"PULUMI_HOME": home} if home else {})}),
        )
        yield EngineSettings(
            stack=stack,
            context=context,
            conn_id=conn_id,
            plugin_cache_dir=cache,
            refresh=settings.refresh_before_up(),
        )
