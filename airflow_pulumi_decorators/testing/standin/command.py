"""In-process form: a ``PulumiCommand`` that runs the stand-in engine directly."""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Mapping

from pulumi.automation import CommandResult, PulumiCommand
from pulumi.automation._cmd import OnOutput
from pulumi.automation.errors import create_command_error
from semver import VersionInfo

from airflow_pulumi_decorators.cli import engine_environment

from .cli import run_cli
from .constants import STANDIN_VERSION
from .sink import Sink


def build_env(additional_env: Mapping[str, str | None]) -> dict[str, str]:
    """The environment a real ``PulumiCommand.run`` would give the CLI.

    A ``None`` value in ``additional_env`` removes that inherited variable.

    :param additional_env: Variables from the workspace.
    """
    return engine_environment(os.environ, {**additional_env, "PULUMI_AUTOMATION_API": "true"})


class StandinCommand(PulumiCommand):
    """Pulumi's CLI seam served in-process by the stand-in engine.

    Use as ``LocalWorkspaceOptions(pulumi_command=StandinCommand())``. Safe to
    share between threads: every call gets its own env, cwd and output sink,
    and neither ``os.environ`` nor the process cwd is changed.
    """

    #: A ``None`` in ``additional_env`` removes the variable (the engine needs no blanking for this command).
    removes_unset_env = True

    def __init__(self) -> None:  # noqa: D107 - no subprocess `pulumi version` here
        self.command = "pulumi-standin (in-process stand-in engine)"
        self.version = VersionInfo.parse(STANDIN_VERSION)
        self._active: set[threading.Event] = set()
        self._active_lock = threading.Lock()

    def run(
        self,
        args: list[str],
        cwd: str,
        additional_env: Mapping[str, str],
        on_output: OnOutput | None = None,
        on_error: OnOutput | None = None,
    ) -> CommandResult:
        """Run one CLI call like ``PulumiCommand.run`` does.

        :param args: Arguments after ``pulumi`` (``--non-interactive`` is inserted).
        :param cwd: Working directory of the call.
        :param additional_env: Extra variables (``None`` removes a variable).
        :param on_output: Called with each stdout line as it is produced.
        :param on_error: Called with each stderr line as it is produced.
        :raises CommandError: (or a subclass) on a non-zero exit code.
        """
        # Same placement rule as PulumiCommand.run: before any "--" separator.
        sep_index = args.index("--") if "--" in args else len(args)
        if "--non-interactive" not in args[:sep_index]:
            args.insert(0, "--non-interactive")
        env = build_env(additional_env)
        sink = Sink(on_output, on_error)
        cancel = threading.Event()
        with self._active_lock:
            self._active.add(cancel)
        try:
            code = run_cli(list(args), env, cwd, sink, "in-process", cancel)
        finally:
            with self._active_lock:
                self._active.discard(cancel)
        result = CommandResult(stdout=sink.stdout, stderr=sink.stderr, code=code)
        if code != 0:
            raise create_command_error(result)
        return result


    def interrupt(self) -> bool:
        """Ask every running call of this command to stop, like Ctrl-C does to the CLI.

        The operation finishes the current resource step, writes state and history (``failed``),
        releases the stack lock and fails with ``update canceled``.

        :returns: Whether a call was running.
        """
        with self._active_lock:
            active = list(self._active)
        for cancel in active:
            cancel.set()
        return bool(active)


def console_script_path() -> str:
    """Absolute path of the installed ``pulumi-standin`` console script.

    :raises FileNotFoundError: If it is not installed.
    """
    candidate = os.path.join(os.path.dirname(sys.executable), "pulumi-standin")
    if os.path.isfile(candidate):
        return candidate
    found = shutil.which("pulumi-standin")
    if found:
        return found
    raise FileNotFoundError("pulumi-standin console script not found")


def install_shim(root: str) -> str:
    """Make ``<root>/bin/pulumi`` a symlink to ``pulumi-standin``.

    The result works with ``PulumiCommand(root=root)`` or by putting
    ``<root>/bin`` on ``PATH``.

    :param root: Directory to create the shim in.
    :returns: Path of the ``pulumi`` symlink.
    """
    bin_dir = os.path.join(root, "bin")
    os.makedirs(bin_dir, exist_ok=True)
    link = os.path.join(bin_dir, "pulumi")
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(console_script_path(), link)
    return link
