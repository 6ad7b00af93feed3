"""Provider plugins: which ones the installed provider packages need, and pre-installing them once per worker."""

from __future__ import annotations

import glob
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping

from airflow_pulumi_decorators.cli.install import LOCK_TIMEOUT_SECONDS, file_lock
from airflow_pulumi_decorators.cli.process import CliProcess
from airflow_pulumi_decorators.errors import PluginInstallError
from airflow_pulumi_decorators.settings import PluginSpec

log = logging.getLogger(__name__)

#: How long a worker remembers that a plugin could not be pre-installed (``[pulumi] plugins = auto``): a worker
#: without internet would otherwise spend seconds and a page of log lines on every task.
FAILURE_MEMORY_SECONDS = 3600.0


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


def _remembered_failure(failures_dir: str | None, spec: PluginSpec, now: float) -> bool:
    if failures_dir is None:
        return False
    try:
        return now - os.path.getmtime(os.path.join(failures_dir, spec.dir_name)) < FAILURE_MEMORY_SECONDS
    except OSError:
        return False


def _remember_failure(failures_dir: str | None, spec: PluginSpec, reason: str, now: float) -> None:
    if failures_dir is None:
        return
    path = os.path.join(failures_dir, spec.dir_name)
    try:
        os.makedirs(failures_dir, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(reason + "\n")
        os.utime(path, (now, now))  # when it failed, as the clock says
    except OSError:
        pass  # not remembering only costs another try


def ensure_plugins(
    process: CliProcess,
    specs: Iterable[PluginSpec],
    cache_dir: str,
    env_overrides: Mapping[str, str | None],
    *,
    strict: bool = True,
    on_output: Callable[[str], None] | None = None,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
    failures_dir: str | None = None,
    clock: Callable[[], float] = time.time,
    on_warning: Callable[[str], None] | None = None,
) -> list[PluginSpec]:
    """Install the missing ``specs`` into the shared ``cache_dir``, one task at a time per worker.

    Already installed plugins cost a ``stat`` and no CLI call. Installs run under a file lock in the
    cache: concurrent plugin installs into one folder are a known Pulumi problem (pulumi/pulumi#22784).
    Without ``strict`` (``[pulumi] plugins = auto``) an install is a best effort: the CLI's lines are not
    logged, the plugins that failed are named in one warning, and each failure is remembered in
    ``failures_dir`` for :data:`FAILURE_MEMORY_SECONDS`, so the worker's next tasks do not try again.

    :param process: the CLI.
    :param specs: the plugins.
    :param cache_dir: the plugin folder the CLI sees as ``$PULUMI_HOME/plugins`` with ``env_overrides``.
    :param env_overrides: the engine's environment overrides (``PULUMI_HOME`` pointing at the cache).
    :param strict: raise on a failed install; otherwise warn once and let the engine try on demand.
    :param on_output: receives the CLI's lines (``strict`` only).
    :param lock_timeout: seconds to wait for another task's install.
    :param failures_dir: the worker's folder that remembers failed best-effort installs.
    :param clock: the time (a seam for tests).
    :param on_warning: receives the one warning about failed best-effort installs (default: this module's
        logger).
    :return: the plugins this call installed.
    :raises PluginInstallError: a failed install (``strict``), with the command to pre-install it.
    """
    now = clock()
    missing = [
        s for s in specs
        if not plugin_installed(cache_dir, s) and (strict or not _remembered_failure(failures_dir, s, now))
    ]
    if not missing:
        return []
    installed: list[PluginSpec] = []
    failed: list[str] = []
    last = ""
    os.makedirs(cache_dir, exist_ok=True)
    lock = os.path.join(cache_dir, ".airflow-pulumi-plugins.lock")
    try:
        with file_lock(lock, timeout=lock_timeout, what="a plugin install"):
            for spec in missing:
                if plugin_installed(cache_dir, spec) or (not strict and _remembered_failure(failures_dir, spec, now)):
                    continue  # installed (or given up on) by another task while we waited
                args = plugin_install_command(spec)
                show = on_output if strict else None
                with tempfile.TemporaryDirectory(prefix="airflow-pulumi-plugin-") as cwd:
                    code, out, err = process.run(args, cwd, env_overrides, show, show)
                if code == 0 and plugin_installed(cache_dir, spec):
                    installed.append(spec)
                    continue
                last = ((err or out).strip().splitlines() or [f"exit code {code}"])[-1]
                if strict:
                    raise PluginInstallError(
                        f"could not install provider plugin {spec.name} {spec.version} into {cache_dir}: "
                        f"{last}. Pre-install it in the worker image: `pulumi plugin install {' '.join(args[2:])}` "
                        "with PULUMI_HOME whose plugins folder is [pulumi] plugin_cache_dir (docs/worker-setup.md)"
                    )
                _remember_failure(failures_dir, spec, last, now)
                failed.append(f"{spec.name} {spec.version}")
    except TimeoutError as exc:
        raise PluginInstallError(f"{exc}; pre-install the plugins in the worker image (docs/worker-setup.md)") from None
    if failed:
        again = (
            f"not tried again on this worker for {FAILURE_MEMORY_SECONDS / 3600:g} h"
            if failures_dir is not None else "tried again by the next task"
        )
        (on_warning or log.warning)(
            f"pulumi: could not pre-install provider plugin(s) {', '.join(failed)} ([pulumi] plugins = auto; last "
            f"error: {last}); {again}. A program that needs one makes the engine try to install it. On a worker "
            "without internet set [pulumi] plugins = none, or pre-install the plugins in the worker image "
            "(docs/worker-setup.md)"
        )
    return installed


def plugins_dir(env: Mapping[str, str]) -> str:
    """The plugin folder the CLI uses with environment ``env`` (``$PULUMI_HOME/plugins``), links resolved."""
    home = env.get("PULUMI_HOME") or os.path.join(os.path.expanduser("~"), ".pulumi")
    return os.path.realpath(os.path.join(home, "plugins"))
