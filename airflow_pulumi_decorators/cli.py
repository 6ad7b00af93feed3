"""The ``pulumi`` executable: finding (or installing) it, checking its version, pre-installing provider
plugins, running it with an environment we control.

:func:`prepare_cli` is what a task calls once, before its first engine call. Nothing here imports Pulumi,
except the default installer (lazily, inside :func:`default_installer`).
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from airflow_pulumi_decorators import settings
from airflow_pulumi_decorators.errors import (
    CliInstallError,
    PluginInstallError,
    PulumiCliNotFoundError,
)
from airflow_pulumi_decorators.settings import PluginSpec

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "install the Pulumi CLI on the worker (`curl -fsSL https://get.pulumi.com | sh`, or bake it into the "
    "worker image), then put it on PATH or point Airflow at it with [pulumi] cli_path "
    "(AIRFLOW__PULUMI__CLI_PATH=/path/to/pulumi)"
)
#: How long a task waits for another task's CLI or plugin install on the same worker.
LOCK_TIMEOUT_SECONDS = 900.0
#: Installer seam: ``installer(root, version)`` leaves ``<root>/bin/pulumi``.
Installer = Callable[[str, str], None]


def locate_cli(cli_path: str | None = None) -> str:
    """Find the ``pulumi`` executable: the configured path (file or folder), PATH, then ``~/.pulumi/bin``.

    :param cli_path: a configured path, or ``None``.
    :raises PulumiCliNotFoundError: when none is found, with how to install it.
    """
    if cli_path:
        candidate = os.path.expanduser(cli_path)
        if os.path.isdir(candidate):
            candidate = os.path.join(candidate, "pulumi")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
        raise PulumiCliNotFoundError(
            f"the configured Pulumi CLI {cli_path!r} ([pulumi] cli_path) is not an executable file; {INSTALL_HINT}"
        )
    found = shutil.which("pulumi")
    if found:
        return os.path.abspath(found)
    home_bin = os.path.expanduser(os.path.join("~", ".pulumi", "bin", "pulumi"))
    if os.path.isfile(home_bin) and os.access(home_bin, os.X_OK):
        return home_bin
    raise PulumiCliNotFoundError(f"no `pulumi` executable on PATH or in ~/.pulumi/bin; {INSTALL_HINT}")


def engine_environment(base: Mapping[str, str], overrides: Mapping[str, str | None]) -> dict[str, str]:
    """The engine's environment: ``base`` with ``overrides`` applied; ``None`` removes a variable.

    :param base: usually ``os.environ``.
    :param overrides: variables to set, or to remove (``None``).
    """
    env = dict(base)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


class CliProcess:
    """The ``pulumi`` executable, run with an environment we control.

    Pulumi's own ``PulumiCommand`` merges ``os.environ`` back in, so an inherited credential variable
    could not be removed; this runner builds the environment itself and keeps the running process so
    :meth:`interrupt` can stop it the way Ctrl-C does. No Pulumi import here: the engine adapts it.

    :param path: the executable.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.version: Any = None
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def check_version(
        self,
        env: Mapping[str, str],
        minimum: Any,
        *,
        sdk_major: int | None = None,
        minimum_source: str = "this Pulumi SDK",
    ) -> Any:
        """Run ``pulumi version`` once; refuse a CLI older than ``minimum`` or of another major version.

        :param env: the environment to run it with.
        :param minimum: the oldest acceptable version (a ``semver.VersionInfo``).
        :param sdk_major: the Pulumi SDK's major version; the CLI's must equal it.
        :param minimum_source: where ``minimum`` comes from, for the message.
        """
        from semver import VersionInfo

        try:
            out = subprocess.run(
                [self.path, "version"], env=dict(env), capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PulumiCliNotFoundError(f"cannot run {self.path!r}: {exc}; {INSTALL_HINT}") from exc
        text = out.stdout.strip().lstrip("v")
        try:
            version = VersionInfo.parse(text)
        except ValueError as exc:
            raise PulumiCliNotFoundError(
                f"{self.path!r} printed {text!r} for `version`, not a Pulumi CLI version; {INSTALL_HINT}"
            ) from exc
        if sdk_major is not None and version.major != sdk_major:
            raise PulumiCliNotFoundError(
                f"Pulumi CLI {version} at {self.path!r} has major version {version.major}, but the Pulumi SDK "
                f"on this worker is {sdk_major}.x; install a {sdk_major}.x CLI. {INSTALL_HINT}"
            )
        # Build metadata (e.g. +standin) does not order versions.
        if version.replace(build=None).compare(minimum) < 0:
            raise PulumiCliNotFoundError(
                f"Pulumi CLI {version} at {self.path!r} is older than the minimum {minimum} "
                f"({minimum_source}); {INSTALL_HINT}"
            )
        self.version = version
        return version

    def run(
        self,
        args: list[str],
        cwd: str,
        env_overrides: Mapping[str, str | None],
        on_output: Callable[[str], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> tuple[int, str, str]:
        """Run ``pulumi ARGS``, streaming each line to the callbacks; returns ``(code, stdout, stderr)``.

        :param args: the arguments after ``pulumi``.
        :param cwd: the working directory.
        :param env_overrides: variables to set, or remove (``None``), on top of ``os.environ``.
        """
        env = engine_environment(os.environ, env_overrides)
        # Plugins shipped next to the CLI must win over any others on PATH.
        env["PATH"] = os.pathsep.join([os.path.dirname(self.path), env.get("PATH", "")])
        chunks: dict[str, list[str]] = {"out": [], "err": []}

        def pump(stream, callback, sink):
            for line in iter(stream.readline, ""):
                line = line.rstrip()
                sink.append(line)
                if callback:
                    callback(line)
            stream.close()

        with subprocess.Popen(
            [self.path, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            encoding="utf-8",
            errors="replace",
        ) as process:
            with self._lock:
                self._process = process
            threads = [
                threading.Thread(target=pump, args=(process.stdout, on_output, chunks["out"]), daemon=True),
                threading.Thread(target=pump, args=(process.stderr, on_error, chunks["err"]), daemon=True),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            process.wait()
            with self._lock:
                self._process = None
        return process.returncode, "\n".join(chunks["out"]), "\n".join(chunks["err"])

    def send_signal(self, sig: int) -> bool:
        """Send ``sig`` to the running CLI; returns whether there was one to send it to."""
        with self._lock:
            process = self._process
        if process is None or process.poll() is not None:
            return False
        try:
            process.send_signal(sig)
        except ProcessLookupError:
            return False
        return True

    def running(self) -> bool:
        """Whether a CLI command is running now."""
        with self._lock:
            process = self._process
        return process is not None and process.poll() is None

    def interrupt(self) -> bool:
        """Ask a running CLI to stop the way Ctrl-C does, so it writes state and releases its lock."""
        return self.send_signal(signal.SIGINT)


# -- versions ---------------------------------------------------------------------------------------


def sdk_version() -> str | None:
    """The installed Pulumi SDK's version (from package metadata: no ``import pulumi``)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pulumi")
    except PackageNotFoundError:  # pragma: no cover - the SDK is a dependency
        return None


def required_minimum(sdk_minimum: Any, configured: str | None) -> tuple[Any, str]:
    """The higher of the SDK's minimum and ``[pulumi] cli_version``, and where it comes from.

    :param sdk_minimum: the SDK's ``_MINIMUM_VERSION`` (a ``semver.VersionInfo``).
    :param configured: ``[pulumi] cli_version`` or ``None``.
    """
    from semver import VersionInfo

    if configured:
        wanted = VersionInfo.parse(configured)
        if wanted.compare(sdk_minimum) > 0:
            return wanted, "[pulumi] cli_version"
    return sdk_minimum, "this Pulumi SDK"


# -- installing the CLI -----------------------------------------------------------------------------


@contextlib.contextmanager
def file_lock(path: str, *, timeout: float = LOCK_TIMEOUT_SECONDS, what: str = "an install") -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` across processes; released when the holder exits, even killed.

    :param path: the lock file (created).
    :param timeout: seconds to wait before giving up.
    :param what: what is being waited for, for the error.
    :raises TimeoutError: when another process held it for ``timeout`` seconds.
    """
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"waited {timeout:.0f}s for {what} holding {path}") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def manual_install_command(version: str, root: str) -> str:
    """The shell command that installs CLI ``version`` into ``root`` by hand (what the installer does)."""
    return f"curl -fsSL https://get.pulumi.com | sh -s -- --version {version} --install-root {root} --no-edit-path"


def default_installer(root: str, version: str) -> None:
    """Install CLI ``version`` into ``root`` with Pulumi's own ``PulumiCommand.install()`` (downloads
    ``https://get.pulumi.com/install.sh`` and runs it).

    :param root: the install root; the CLI lands in ``<root>/bin/pulumi``.
    :param version: e.g. ``3.272.0``.
    """
    from pulumi.automation import PulumiCommand
    from semver import VersionInfo

    PulumiCommand.install(root=root, version=VersionInfo.parse(version), skip_version_check=True)


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _failure_reason(exc: BaseException) -> str:
    output = getattr(exc, "output", None)
    if isinstance(output, bytes):
        output = output.decode("utf-8", "replace")
    text = f"{type(exc).__name__}: {exc}"
    url = getattr(exc, "url", None) or getattr(exc, "filename", None)
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        text += f" ({url})"
    if output:
        text += " -- " + " | ".join(output.strip().splitlines()[-5:])
    return text


def install_cli(
    version: str,
    install_dir: str,
    *,
    installer: Installer | None = None,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
) -> str:
    """Install CLI ``version`` once per worker into ``<install_dir>/<version>``; returns the executable.

    Safe when several tasks start at once: one installs under a file lock, the others wait and reuse it.
    The install goes to a staging folder renamed into place, so a failed or killed install never leaves
    a half CLI that later tasks would pick up.

    :param version: the version, e.g. ``3.272.0``.
    :param install_dir: the shared folder (``[pulumi] worker_dir``/cli).
    :param installer: the seam that installs into a root (default :func:`default_installer`).
    :param lock_timeout: seconds to wait for another task's install.
    :raises CliInstallError: when the install fails, with the command to install it by hand.
    """
    target = os.path.join(install_dir, version)
    exe = os.path.join(target, "bin", "pulumi")
    if _is_executable(exe):
        return exe
    manual = manual_install_command(version, target)
    os.makedirs(install_dir, exist_ok=True)
    try:
        with file_lock(os.path.join(install_dir, f".{version}.lock"), timeout=lock_timeout, what="a CLI install"):
            if _is_executable(exe):
                return exe  # another task installed it while we waited
            staging = tempfile.mkdtemp(prefix=f".{version}-staging-", dir=install_dir)
            try:
                log.info("pulumi: installing the Pulumi CLI %s into %s", version, target)
                try:
                    (installer or default_installer)(staging, version)
                except Exception as exc:  # noqa: BLE001 - any failure gets the same clear message
                    raise CliInstallError(
                        f"could not install the Pulumi CLI {version} into {target} ({_failure_reason(exc)}). "
                        f"Install it by hand: `{manual}`, or bake it into the worker image "
                        "(docs/worker-setup.md) and set [pulumi] cli_path"
                    ) from None
                if not _is_executable(os.path.join(staging, "bin", "pulumi")):
                    raise CliInstallError(
                        f"the Pulumi CLI installer for {version} left no bin/pulumi; install it by hand: `{manual}`"
                    )
                os.rename(staging, target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except TimeoutError as exc:
        raise CliInstallError(f"{exc}; install the CLI by hand: `{manual}`") from None
    return exe


# -- provider plugins -------------------------------------------------------------------------------


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


# -- once per task ----------------------------------------------------------------------------------


def prepare_cli(
    cli_path: str | None,
    env_overrides: Mapping[str, str | None],
    *,
    sdk_minimum: Any,
    on_output: Callable[[str], None] | None = None,
    installer: Installer | None = None,
) -> CliProcess:
    """Everything a task does with the CLI before its first engine call, once per task.

    1. locate it (``cli_path``/``[pulumi] cli_path``, PATH, ``~/.pulumi/bin``), or with
       ``[pulumi] install_cli`` install ``[pulumi] cli_version`` (default: the SDK's version) once per worker;
    2. check its version against the SDK's minimum, ``[pulumi] cli_version`` and the SDK's major version
       (a too old CLI is replaced by an installed one when ``install_cli`` is on);
    3. pre-install ``[pulumi] plugins`` into the plugin folder the engine will use (once per worker).

    :param cli_path: the task's ``cli_path`` (default ``[pulumi] cli_path``).
    :param env_overrides: the engine's environment overrides (``PULUMI_HOME``, backend, credentials).
    :param sdk_minimum: the SDK's minimum CLI version (``pulumi.automation._minimum_version._MINIMUM_VERSION``).
    :param on_output: receives progress lines (the task log).
    :param installer: the CLI installer seam (default :func:`default_installer`).
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

    process: CliProcess | None = None
    problem: PulumiCliNotFoundError | None = None
    try:
        process = CliProcess(locate_cli(cli_path))
        process.check_version(env, minimum, sdk_major=sdk_major, minimum_source=minimum_source)
    except PulumiCliNotFoundError as exc:
        process, problem = None, exc
    if process is None:
        # An explicitly configured CLI that is unusable is an error, never silently replaced.
        if not install or cli_path or problem is None:
            raise problem or PulumiCliNotFoundError(INSTALL_HINT)
        version = settings.cli_version() or sdk or str(minimum)
        install_dir = os.path.join(settings.worker_dir(), "cli")
        if not _is_executable(os.path.join(install_dir, version, "bin", "pulumi")):
            say(f"pulumi: {problem}; installing CLI {version} into {install_dir} ([pulumi] install_cli)")
        exe = install_cli(version, install_dir, installer=installer)
        process = CliProcess(exe)
        process.check_version(env, minimum, sdk_major=sdk_major, minimum_source=minimum_source)
    say(f"pulumi: CLI {process.version} at {process.path}")

    if "standin" in str(process.version.build or ""):
        return process  # the offline stand-in runs no plugins
    wanted = settings.plugins()
    if wanted == "none":
        return process
    specs = discover_plugins() if wanted == "auto" else wanted
    if specs:
        cache = plugins_dir(env)
        for spec in ensure_plugins(process, specs, cache, env_overrides, strict=wanted != "auto", on_output=say):
            say(f"pulumi: installed provider plugin {spec.name} {spec.version} into {cache}")
    return process
