"""The ``pulumi`` executable: finding (or installing) it, checking its version, pre-installing provider
plugins, running it with an environment we control.

:func:`prepare_cli` is what a task calls once, before its first engine call. Nothing here imports Pulumi or
the engine: installing the CLI takes an installer the caller passes (the engine passes Pulumi's).

- :mod:`.locate`: where the executable is, which version it must be;
- :mod:`.install`: installing it once per worker;
- :mod:`.process`: running it with our environment, and its signals;
- :mod:`.versions`: what ``pulumi version`` printed, remembered per worker;
- :mod:`.plugins`: provider plugins.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from airflow_pulumi_decorators import settings
from airflow_pulumi_decorators.cli.install import (
    LOCK_TIMEOUT_SECONDS,
    Installer,
    file_lock,
    install_cli,
    manual_install_command,
)
from airflow_pulumi_decorators.cli.locate import (
    INSTALL_HINT,
    is_executable,
    locate_cli,
    required_minimum,
    sdk_version,
)
from airflow_pulumi_decorators.cli.plugins import (
    discover_plugins,
    ensure_plugins,
    plugin_install_command,
    plugin_installed,
    plugins_dir,
)
from airflow_pulumi_decorators.cli.process import CliProcess, engine_environment
from airflow_pulumi_decorators.errors import PulumiCliNotFoundError

__all__ = [
    "INSTALL_HINT",
    "LOCK_TIMEOUT_SECONDS",
    "CliProcess",
    "Installer",
    "discover_plugins",
    "engine_environment",
    "ensure_plugins",
    "file_lock",
    "install_cli",
    "locate_cli",
    "manual_install_command",
    "plugin_install_command",
    "plugin_installed",
    "plugins_dir",
    "prepare_cli",
    "required_minimum",
    "sdk_version",
]

log = logging.getLogger(__name__)


def prepare_cli(
    cli_path: str | None,
    env_overrides: Mapping[str, str | None],
    *,
    sdk_minimum: Any,
    on_output: Callable[[str], None] | None = None,
    installer: Installer | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> CliProcess:
    """Everything a task does with the CLI before its first engine call, once per task.

    1. locate it (``cli_path``/``[pulumi] cli_path``, PATH, ``~/.pulumi/bin``), or with
       ``[pulumi] install_cli`` install ``[pulumi] cli_version`` (default: the SDK's version) once per worker;
    2. check its version against the SDK's minimum, ``[pulumi] cli_version`` and the SDK's major version
       (a too old CLI is replaced by an installed one when ``install_cli`` is on); ``pulumi version`` runs
       once per worker and executable, its answer is remembered in ``<worker_dir>/cli-versions``;
    3. pre-install ``[pulumi] plugins`` into the plugin folder the engine will use (once per worker).

    :param cli_path: the task's ``cli_path`` (default ``[pulumi] cli_path``).
    :param env_overrides: the engine's environment overrides (``PULUMI_HOME``, backend, credentials).
    :param sdk_minimum: the SDK's minimum CLI version (:func:`airflow_pulumi_decorators.engine.compat.sdk_minimum_cli`).
    :param on_output: receives progress lines (the task log).
    :param installer: installs the CLI (``installer(root, version)``); without one a missing CLI is not installed.
    :param on_warning: receives warnings (a plugin that could not be pre-installed); default the module's logger.
    :raises PulumiCliNotFoundError: no usable CLI (``CliInstallError`` when installing failed).
    :raises PluginInstallError: an explicitly listed plugin could not be installed.
    """
    say = on_output or log.info
    cli_path = cli_path or settings.get_option("cli_path")
    minimum, minimum_source = required_minimum(sdk_minimum, settings.cli_version())
    sdk = sdk_version()
    sdk_major = int(sdk.split(".")[0]) if sdk else None
    env = engine_environment(os.environ, env_overrides)
    install = settings.install_cli()
    versions = os.path.join(settings.worker_dir(), "cli-versions")

    process: CliProcess | None = None
    problem: PulumiCliNotFoundError | None = None
    try:
        process = CliProcess(locate_cli(cli_path))
        process.check_version(env, minimum, sdk_major=sdk_major, minimum_source=minimum_source, cache_dir=versions)
    except PulumiCliNotFoundError as exc:
        process, problem = None, exc
    if process is None:
        # An explicitly configured CLI that is unusable is an error, never silently replaced.
        if not install or installer is None or cli_path or problem is None:
            raise problem or PulumiCliNotFoundError(INSTALL_HINT)
        version = settings.cli_version() or sdk or str(minimum)
        install_dir = os.path.join(settings.worker_dir(), "cli")
        if not is_executable(os.path.join(install_dir, version, "bin", "pulumi")):
            say(f"pulumi: {problem}; installing CLI {version} into {install_dir} ([pulumi] install_cli)")
        exe = install_cli(version, install_dir, installer=installer)
        process = CliProcess(exe)
        process.check_version(env, minimum, sdk_major=sdk_major, minimum_source=minimum_source, cache_dir=versions)
    say(f"pulumi: CLI {process.version} at {process.path}")

    wanted = settings.plugins()
    if wanted == "none":
        return process
    specs = discover_plugins() if isinstance(wanted, str) else wanted  # the str left is "auto"
    if specs:
        cache = plugins_dir(env)
        failures = os.path.join(settings.worker_dir(), "plugin-failures")
        for spec in ensure_plugins(process, specs, cache, env_overrides, strict=wanted != "auto", on_output=say,
                                   failures_dir=failures, on_warning=on_warning):
            say(f"pulumi: installed provider plugin {spec.name} {spec.version} into {cache}")
    return process
