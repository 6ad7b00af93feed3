"""The ``pulumi`` executable: finding it, checking its version, running it with an environment we control."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from typing import Any

from airflow_pulumi_decorators.errors import PulumiCliNotFoundError

INSTALL_HINT = (
    "install the Pulumi CLI on the worker (`curl -fsSL https://get.pulumi.com | sh`, or bake it into the "
    "worker image), then put it on PATH or point Airflow at it with [pulumi] cli_path "
    "(AIRFLOW__PULUMI__CLI_PATH=/path/to/pulumi)"
)


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

    def check_version(self, env: Mapping[str, str], minimum: Any) -> Any:
        """Run ``pulumi version`` once and refuse a CLI older than ``minimum`` (a ``semver.VersionInfo``).

        :param env: the environment to run it with.
        :param minimum: the oldest acceptable version.
        """
        from semver import VersionInfo

        try:
            out = subprocess.run([self.path, "version"], env=dict(env), capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PulumiCliNotFoundError(f"cannot run {self.path!r}: {exc}; {INSTALL_HINT}") from exc
        text = out.stdout.strip().lstrip("v")
        try:
            version = VersionInfo.parse(text)
        except ValueError as exc:
            raise PulumiCliNotFoundError(
                f"{self.path!r} printed {text!r} for `version`, not a Pulumi CLI version; {INSTALL_HINT}"
            ) from exc
        if version.compare(minimum) < 0:
            raise PulumiCliNotFoundError(
                f"Pulumi CLI {version} at {self.path!r} is older than the minimum {minimum} "
                f"this Pulumi SDK needs; {INSTALL_HINT}"
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

    def interrupt(self) -> bool:
        """Ask a running CLI to stop the way Ctrl-C does, so it writes state and releases its lock."""
        with self._lock:
            process = self._process
        if process is None or process.poll() is not None:
            return False
        process.send_signal(signal.SIGINT)
        return True
