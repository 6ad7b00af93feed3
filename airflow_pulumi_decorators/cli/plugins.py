"""Provider plugins: which ones the installed provider packages need, and pre-installing them once per worker."""

from __future__ import annotations

import glob
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping

from airflow_pulumi_decorators.cli.install import LOCK_TIMEOUT_SECONDS, file_lock
from airflow_pulumi_decorators.cli.process import CliProcess
from airflow_pulumi_decorators.errors import PluginInstallError
from airflow_pulumi_decorators.settings import PluginSpec

log = logging.getLogger(__name__)


def discover_plugins(paths: Iterable[str] | None = None) -> tuple[PluginSpec, ...]:
    """The resource plugins of the Pulumi provider packages importable here (their ``pulumi-plugin.json``),
    as Pulumi's Python language host finds them for non-inline programs.

    :param paths: folders to scan (default ``sys.path``).
    """
    found: dict[tuple[str, str], PluginSpec] = {}
    for entry in paths if paths is not None else sys.path:
        if not entry or not os.path.isdir(entry):
            continue
        for meta in sorted(glob.glob(os.path.join(entry, "*", "pulumi-plugin.json"))):
            try:
                with open(meta, encoding="utf-8") as handle:
                    data = json.load(handle)
            except (OSError, ValueError):
                continue
            name, version = data.get("name"), str(data.get("version") or "").lstrip("v")
            if not data.get("resource") or not name or not version:
                continue
            found.setdefault((name, version), PluginSpec(name=name, version=version, server=data.get("server") or None))
    return tuple(found.values())


def plugin_installed(cache_dir: str, spec: PluginSpec) -> bool:
    """Whether ``spec`` is fully installed in ``cache_dir`` (Pulumi leaves ``<dir>.partial`` while installing)."""
    path = os.path.join(cache_dir, spec.dir_name)
    return os.path.isdir(path) and not os.path.exists(path + ".partial")


def plugin_install_command(spec: PluginSpec) -> list[str]:
    """``pulumi plugin install`` arguments for ``spec``."""
    args = ["plugin", "install", spec.kind, spec.name, spec.version]
    if spec.server:
        args += ["--server", spec.server]
    return args


def ensure_plugins(
    process: CliProcess,
    specs: Iterable[PluginSpec],
    cache_dir: str,
    env_overrides: Mapping[str, str | None],
    *,
    strict: bool = True,
    on_output: Callable[[str], None] | None = None,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
) -> list[PluginSpec]:
    """Install the missing ``specs`` into the shared ``cache_dir``, one task at a time per worker.

    Already installed plugins cost a ``stat`` and no CLI call. Installs run under a file lock in the
    cache: concurrent plugin installs into one folder are a known Pulumi problem (pulumi/pulumi#22784).

    :param process: the CLI.
    :param specs: the plugins.
    :param cache_dir: the plugin folder the CLI sees as ``$PULUMI_HOME/plugins`` with ``env_overrides``.
    :param env_overrides: the engine's environment overrides (``PULUMI_HOME`` pointing at the cache).
    :param strict: raise on a failed install; otherwise log it and let the engine try on demand.
    :param on_output: receives the CLI's lines.
    :param lock_timeout: seconds to wait for another task's install.
    :return: the plugins this call installed.
    :raises PluginInstallError: a failed install (``strict``), with the command to pre-install it.
    """
    missing = [s for s in specs if not plugin_installed(cache_dir, s)]
    if not missing:
        return []
    installed: list[PluginSpec] = []
    os.makedirs(cache_dir, exist_ok=True)
    lock = os.path.join(cache_dir, ".airflow-pulumi-plugins.lock")
    try:
        with file_lock(lock, timeout=lock_timeout, what="a plugin install"):
            for spec in missing:
                if plugin_installed(cache_dir, spec):
                    continue  # installed by another task while we waited
                args = plugin_install_command(spec)
                with tempfile.TemporaryDirectory(prefix="airflow-pulumi-plugin-") as cwd:
                    code, out, err = process.run(args, cwd, env_overrides, on_output, on_output)
                if code == 0 and plugin_installed(cache_dir, spec):
                    installed.append(spec)
                    continue
                last = ((err or out).strip().splitlines() or [f"exit code {code}"])[-1]
                message = (
                    f"could not install provider plugin {spec.name} {spec.version} into {cache_dir}: "
                    f"{last}. Pre-install it in the "
                    f"worker image: `pulumi plugin install {' '.join(args[2:])}` with PULUMI_HOME whose plugins "
                    "folder is [pulumi] plugin_cache_dir (docs/worker-setup.md)"
                )
                if strict:
                    raise PluginInstallError(message)
                log.warning("pulumi: %s; the engine will try to install it when the program needs it", message)
    except TimeoutError as exc:
        raise PluginInstallError(f"{exc}; pre-install the plugins in the worker image (docs/worker-setup.md)") from None
    return installed


def plugins_dir(env: Mapping[str, str]) -> str:
    """The plugin folder the CLI uses with environment ``env`` (``$PULUMI_HOME/plugins``), links resolved."""
    home = env.get("PULUMI_HOME") or os.path.join(os.path.expanduser("~"), ".pulumi")
    return os.path.realpath(os.path.join(home, "plugins"))
