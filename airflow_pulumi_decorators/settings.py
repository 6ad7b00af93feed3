"""The ``[pulumi]`` section of Airflow's configuration and the embedded defaults.

Read at task start, never at import: ``AIRFLOW__PULUMI__CLI_PATH`` and friends override ``airflow.cfg``.
:data:`OPTIONS` is the single description of the section: :mod:`~airflow_pulumi_decorators.provider`
declares it to Airflow from here and ``docs/configuration.md`` documents each entry.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from airflow_pulumi_decorators.errors import ConfigurationError

SECTION = "pulumi"

#: Where the embedded default ``file://`` backend keeps state, below ``$AIRFLOW_HOME``.
DEFAULT_STATE_SUBDIR = os.path.join("pulumi", "state")

PULUMI_HOME_STRATEGIES = ("per_task", "inherit")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off", "")
_VERSION_RE = re.compile(r"^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$")
_PLUGIN_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class Option:
    """One ``[pulumi]`` option, as declared to Airflow (``provider.get_provider_info``).

    :param name: the option's key.
    :param type: Airflow's option type (``string``, ``boolean``, ``integer``, ``float``).
    :param default: the default, as Airflow stores it (a string).
    :param example: an example value.
    :param description: what it does.
    """

    name: str
    type: str
    default: str
    example: str
    description: str


OPTIONS: tuple[Option, ...] = (
    Option(
        "cli_path", "string", "", "/opt/pulumi/bin/pulumi",
        "Path to the `pulumi` executable (or its folder). Empty: search PATH, then ~/.pulumi/bin, then the "
        "CLI installed by install_cli.",
    ),
    Option(
        "cli_version", "string", "", "3.272.0",
        "The oldest Pulumi CLI version a task accepts, and the version install_cli installs. Empty: the "
        "minimum of the installed Pulumi SDK (install: the SDK's own version). The CLI's major version must "
        "always equal the SDK's.",
    ),
    Option(
        "install_cli", "boolean", "False", "True",
        "When no suitable CLI is found, install cli_version once per worker into worker_dir/cli/<version> "
        "(with Pulumi's installer, which downloads from get.pulumi.com; concurrent tasks wait on a file lock). "
        "Off by default: bake the CLI into the worker image instead.",
    ),
    Option(
        "backend_url", "string", "", "gs://my-bucket/pulumi",
        "Default Pulumi backend when neither the Environment, its connection, nor PULUMI_BACKEND_URL names "
        "one. Empty: a local file:// backend under $AIRFLOW_HOME/pulumi/state.",
    ),
    Option(
        "default_conn_id", "string", "", "pulumi_default",
        "The `pulumi` connection used when neither the Environment nor the task names one. Empty: none.",
    ),
    Option(
        "pulumi_home", "string", "per_task", "inherit",
        "PULUMI_HOME strategy. per_task: a fresh PULUMI_HOME per task (removed afterwards) whose plugins "
        "folder is the shared plugin_cache_dir, so concurrent tasks never share workspace state. inherit: "
        "the worker's PULUMI_HOME (or ~/.pulumi), as the CLI would use it.",
    ),
    Option(
        "worker_dir", "string", "", "/var/lib/airflow/pulumi",
        "Worker-level folder for installed CLIs (cli/), per-task PULUMI_HOMEs (homes/) and, by default, "
        "the plugin cache (plugins/). Empty: $AIRFLOW_HOME/pulumi.",
    ),
    Option(
        "plugin_cache_dir", "string", "", "/opt/pulumi/plugins",
        "Shared provider plugin cache for per_task PULUMI_HOMEs; installs into it are serialised by a file "
        "lock. Empty: worker_dir/plugins.",
    ),
    Option(
        "plugins", "string", "auto", "random:4.21.4, gcp:10.2.0",
        "Provider plugins installed into the cache before a task's first engine run (once per worker). "
        "auto: those of the Pulumi provider packages installed in the worker's Python (their "
        "pulumi-plugin.json); none: only what the engine installs on demand; or a comma-separated list of "
        "name:version[:server_url].",
    ),
    Option(
        "refresh_before_up", "boolean", "False", "True",
        "Run `pulumi up --refresh`: read the real state of every resource before updating.",
    ),
    Option(
        "credential_budget", "string", "", "3600",
        "Seconds a task's Google Cloud token must stay valid when the task has no execution_timeout. "
        "Empty: no lifetime check without execution_timeout.",
    ),
)


def get_option(key: str, fallback: str | None = None) -> str | None:
    """One ``[pulumi]`` option from Airflow's configuration (environment variables included).

    :param key: the option, e.g. ``cli_path``.
    :param fallback: returned when the option is not set (or set empty).
    """
    env_value = os.environ.get(f"AIRFLOW__{SECTION.upper()}__{key.upper()}")
    if env_value is not None:
        return env_value.strip() or fallback
    from airflow_pulumi_decorators._airflow import config_get

    value = config_get(SECTION, key, fallback=fallback)
    value = value.strip() if isinstance(value, str) else value
    return value if value not in ("", None) else fallback


def _where(key: str) -> str:
    return f"[{SECTION}] {key} (AIRFLOW__{SECTION.upper()}__{key.upper()})"


def get_bool(key: str, default: bool = False) -> bool:
    """A boolean option; anything but true/false/1/0/yes/no/on/off is refused.

    :param key: the option.
    :param default: when unset.
    """
    raw = get_option(key)
    if raw is None:
        return default
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigurationError(f"{_where(key)}={raw!r} is not a boolean; use True or False")


def cli_version() -> str | None:
    """``[pulumi] cli_version`` without a leading ``v``, or ``None``."""
    raw = get_option("cli_version")
    if raw is None:
        return None
    if not _VERSION_RE.match(raw):
        raise ConfigurationError(f"{_where('cli_version')}={raw!r} is not a version; use e.g. 3.272.0")
    return raw.lstrip("v")


def install_cli() -> bool:
    """``[pulumi] install_cli`` (default off)."""
    return get_bool("install_cli")


def refresh_before_up() -> bool:
    """``[pulumi] refresh_before_up`` (default off)."""
    return get_bool("refresh_before_up")


def default_conn_id() -> str | None:
    """``[pulumi] default_conn_id``, or ``None``."""
    return get_option("default_conn_id")


def pulumi_home_strategy() -> str:
    """``[pulumi] pulumi_home``: ``per_task`` (default) or ``inherit``."""
    raw = (get_option("pulumi_home") or "per_task").lower().replace("-", "_")
    if raw not in PULUMI_HOME_STRATEGIES:
        raise ConfigurationError(
            f"{_where('pulumi_home')}={raw!r} is not one of {', '.join(PULUMI_HOME_STRATEGIES)}"
        )
    return raw


def _absolute_dir(key: str, value: str) -> str:
    path = os.path.expanduser(value)
    if not os.path.isabs(path):
        raise ConfigurationError(f"{_where(key)}={value!r} must be an absolute path")
    return path


def worker_dir() -> str:
    """``[pulumi] worker_dir``, default ``$AIRFLOW_HOME/pulumi`` (not created here)."""
    raw = get_option("worker_dir")
    return _absolute_dir("worker_dir", raw) if raw else os.path.join(os.path.abspath(airflow_home()), "pulumi")


def plugin_cache_dir() -> str:
    """``[pulumi] plugin_cache_dir``, default ``<worker_dir>/plugins`` (not created here)."""
    raw = get_option("plugin_cache_dir")
    return _absolute_dir("plugin_cache_dir", raw) if raw else os.path.join(worker_dir(), "plugins")


@dataclass(frozen=True)
class PluginSpec:
    """A provider plugin to pre-install.

    :param name: e.g. ``random``.
    :param version: e.g. ``4.21.4`` (no ``v``).
    :param server: a download URL for plugins not on Pulumi's registry.
    :param kind: Pulumi's plugin kind; provider packages are ``resource``.
    """

    name: str
    version: str
    server: str | None = None
    kind: str = "resource"

    @property
    def dir_name(self) -> str:
        """The folder Pulumi installs it into, inside the plugin cache."""
        return f"{self.kind}-{self.name}-v{self.version}"


def plugins() -> str | tuple[PluginSpec, ...]:
    """``[pulumi] plugins``: ``"auto"``, ``"none"`` or the explicit list."""
    raw = get_option("plugins") or "auto"
    if raw.lower() in ("auto", "none"):
        return raw.lower()
    return parse_plugin_list(raw)


def parse_plugin_list(raw: str) -> tuple[PluginSpec, ...]:
    """Parse ``name:version[:server_url], ...``.

    :param raw: the option's text.
    """
    specs = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        name, _, rest = item.partition(":")
        version, _, server = rest.partition(":")
        version = version.strip().lstrip("v")
        if not _PLUGIN_RE.match(name.strip()) or not _VERSION_RE.match(version or "x"):
            raise ConfigurationError(
                f"{_where('plugins')} has {item!r}; use auto, none, or name:version[:server_url] items "
                "separated by commas, e.g. random:4.21.4, gcp:10.2.0"
            )
        server = server.strip()
        if server and not server.startswith(("https://", "http://")):
            raise ConfigurationError(f"{_where('plugins')}: the server of {item!r} must be an http(s) URL")
        specs.append(PluginSpec(name=name.strip(), version=version, server=server or None))
    return tuple(specs)


def airflow_home() -> str:
    """``$AIRFLOW_HOME``, defaulting like Airflow does."""
    return os.path.expanduser(os.environ.get("AIRFLOW_HOME") or os.path.join("~", "airflow"))


def embedded_backend_url() -> str:
    """The embedded default backend: a local ``file://`` directory under ``$AIRFLOW_HOME`` (created)."""
    path = os.path.join(airflow_home(), DEFAULT_STATE_SUBDIR)
    os.makedirs(path, exist_ok=True)
    return "file://" + os.path.abspath(path)
