"""Running the ``pulumi`` executable with an environment we control, and stopping it the way Ctrl-C does."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from typing import IO, Any

from airflow_pulumi_decorators.cli.locate import INSTALL_HINT
from airflow_pulumi_decorators.cli.versions import cached_version, remember_version
from airflow_pulumi_decorators.errors import PulumiCliNotFoundError

log = logging.getLogger(__name__)


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
    :param on_spawn: called with the pid of each ``pulumi`` process :meth:`run` starts, before it can take a
        stack lock (the engine names it in the run's holder note, :mod:`airflow_pulumi_decorators.locks`).
    :param on_exit: called with that pid once the process ended.
    """

    def __init__(
        self,
        path: str,
        *,
        on_spawn: Callable[[int], None] | None = None,
        on_exit: Callable[[int], None] | None = None,
    ) -> None:
        self.path = path
        self.version: Any = None
        self.on_spawn = on_spawn
        self.on_exit = on_exit
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def check_version(
        self,
        env: Mapping[str, str],
        minimum: Any,
        *,
        sdk_major: int | None = None,
        minimum_source: str = "this Pulumi SDK",
        cache_dir: str | None = None,
    ) -> Any:
        """Learn the CLI's version (``pulumi version``, or what it printed last time from ``cache_dir``);
        refuse a CLI older than ``minimum`` or of another major version.

        :param env: the environment to run it with.
        :param minimum: the oldest acceptable version (a ``semver.VersionInfo``).
        :param sdk_major: the Pulumi SDK's major version; the CLI's must equal it.
        :param minimum_source: where ``minimum`` comes from, for the message.
        :param cache_dir: the worker's version cache (:mod:`.versions`); ``None`` runs ``pulumi version``.
        """
        from semver import VersionInfo

        cached = cached_version(self.path, cache_dir) if cache_dir else None
        text = cached if cached is not None else self._printed_version(env)
        try:
            version = VersionInfo.parse(text)
        except ValueError as exc:
            raise PulumiCliNotFoundError(
                f"{self.path!r} printed {text!r} for `version`, not a Pulumi CLI version; {INSTALL_HINT}"
            ) from exc
        if cache_dir and cached is None:  # only a version: a failed start is tried again next time
            remember_version(self.path, cache_dir, text)
        if sdk_major is not None and version.major != sdk_major:
            raise PulumiCliNotFoundError(
                f"Pulumi CLI {version} at {self.path!r} has major version {version.major}, but the Pulumi SDK "
                f"on this worker is {sdk_major}.x; install a {sdk_major}.x CLI. {INSTALL_HINT}"
            )
        # Build metadata (+something) does not order versions.
        if version.replace(build=None).compare(minimum) < 0:
            raise PulumiCliNotFoundError(
                f"Pulumi CLI {version} at {self.path!r} is older than the minimum {minimum} "
                f"({minimum_source}); {INSTALL_HINT}"
            )
        self.version = version
        return version

    def _printed_version(self, env: Mapping[str, str]) -> str:
        """What ``pulumi version`` prints, without its leading ``v``."""
        try:
            out = subprocess.run(
                [self.path, "version"], env=dict(env), capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PulumiCliNotFoundError(f"cannot run {self.path!r}: {exc}; {INSTALL_HINT}") from exc
        return out.stdout.strip().lstrip("v")

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

        def pump(stream: IO[str], callback: Callable[[str], None] | None, sink: list[str]) -> None:
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
            self._tell(self.on_spawn, process.pid)
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
            self._tell(self.on_exit, process.pid)
        return process.returncode, "\n".join(chunks["out"]), "\n".join(chunks["err"])

    @staticmethod
    def _tell(hook: Callable[[int], None] | None, pid: int) -> None:
        """Call a pid hook; its failure is logged, never the command's."""
        if hook is None:
            return
        try:
            hook(pid)
        except Exception:  # noqa: BLE001 - bookkeeping must not fail or hang the CLI call
            log.warning("pulumi: the hook for CLI process %s failed", pid, exc_info=True)

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
