"""Installing the ``pulumi`` executable once per worker (``[pulumi] install_cli``), under a file lock."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator

from airflow_pulumi_decorators.cli.locate import is_executable
from airflow_pulumi_decorators.errors import CliInstallError

log = logging.getLogger(__name__)

#: How long a task waits for another task's CLI or plugin install on the same worker.
LOCK_TIMEOUT_SECONDS = 900.0
#: Installer seam: ``installer(root, version)`` leaves ``<root>/bin/pulumi``.
Installer = Callable[[str, str], None]


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
    installer: Installer,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
) -> str:
    """Install CLI ``version`` once per worker into ``<install_dir>/<version>``; returns the executable.

    Safe when several tasks start at once: one installs under a file lock, the others wait and reuse it.
    The install goes to a staging folder renamed into place, so a failed or killed install never leaves
    a half CLI that later tasks would pick up.

    :param version: the version, e.g. ``3.272.0``.
    :param install_dir: the shared folder (``[pulumi] worker_dir``/cli).
    :param installer: installs CLI ``version`` into a root (the engine's uses Pulumi's ``PulumiCommand.install``).
    :param lock_timeout: seconds to wait for another task's install.
    :raises CliInstallError: when the install fails, with the command to install it by hand.
    """
    target = os.path.join(install_dir, version)
    exe = os.path.join(target, "bin", "pulumi")
    if is_executable(exe):
        return exe
    manual = manual_install_command(version, target)
    os.makedirs(install_dir, exist_ok=True)
    try:
        with file_lock(os.path.join(install_dir, f".{version}.lock"), timeout=lock_timeout, what="a CLI install"):
            if is_executable(exe):
                return exe  # another task installed it while we waited
            staging = tempfile.mkdtemp(prefix=f".{version}-staging-", dir=install_dir)
            try:
                log.info("pulumi: installing the Pulumi CLI %s into %s", version, target)
                try:
                    installer(staging, version)
                except Exception as exc:  # noqa: BLE001 - any failure gets the same clear message
                    raise CliInstallError(
                        f"could not install the Pulumi CLI {version} into {target} ({_failure_reason(exc)}). "
                        f"Install it by hand: `{manual}`, or bake it into the worker image "
                        "(docs/worker-setup.md) and set [pulumi] cli_path"
                    ) from None
                if not is_executable(os.path.join(staging, "bin", "pulumi")):
                    raise CliInstallError(
                        f"the Pulumi CLI installer for {version} left no bin/pulumi; install it by hand: `{manual}`"
                    )
                os.rename(staging, target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except TimeoutError as exc:
        raise CliInstallError(f"{exc}; install the CLI by hand: `{manual}`") from None
    return exe
