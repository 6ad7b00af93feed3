"""Command adapters: our :class:`~airflow_pulumi_decorators.cli.CliProcess` as Pulumi's ``PulumiCommand``,
and the guard every command runs behind (no new CLI call after a stop; removed variables blanked for a
stock command)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_pulumi_decorators.cli import CliProcess

if TYPE_CHECKING:
    from pulumi.automation import PulumiCommand

    from airflow_pulumi_decorators.engine.flag import Flag

#: What a CLI call refused after a stop reports (it ends as OperationInterruptedError).
STOPPED_TEXT = "error: update canceled (task stopping)"


def install_pulumi_cli(root: str, version: str) -> None:
    """Install CLI ``version`` into ``root`` with Pulumi's ``PulumiCommand.install()``, which downloads
    ``https://get.pulumi.com/install.sh`` and runs it (the installer the engine hands
    :func:`~airflow_pulumi_decorators.cli.prepare_cli`).

    :param root: the install root; the CLI lands in ``<root>/bin/pulumi``.
    :param version: e.g. ``3.272.0``.
    """
    from pulumi.automation import PulumiCommand
    from semver import VersionInfo

    PulumiCommand.install(root=root, version=VersionInfo.parse(version), skip_version_check=True)


def cli_command(process: CliProcess) -> PulumiCommand:
    """Adapt a :class:`CliProcess` to Pulumi's ``PulumiCommand`` seam."""
    from pulumi.automation import CommandResult, OnOutput, PulumiCommand
    from pulumi.automation.errors import create_command_error

    class _CliCommand(PulumiCommand):
        removes_unset_env = True  # CliProcess builds the environment itself: None removes a variable

        def __init__(self) -> None:  # no super(): it would run `pulumi version` again
            self.command = process.path
            self.version = process.version

        def run(
            self,
            args: list[str],
            cwd: str,
            additional_env: Mapping[str, str],
            on_output: OnOutput | None = None,
            on_error: OnOutput | None = None,
        ) -> CommandResult:
            sep = args.index("--") if "--" in args else len(args)
            if "--non-interactive" not in args[:sep]:
                args.insert(0, "--non-interactive")
            code, out, err = process.run(
                args, cwd, {**additional_env, "PULUMI_AUTOMATION_API": "true"}, on_output, on_error
            )
            result = CommandResult(stdout=out, stderr=err, code=code)
            if code != 0:
                raise create_command_error(result)
            return result

        def interrupt(self) -> bool:
            return process.interrupt()

        def send_signal(self, sig: int) -> bool:
            return process.send_signal(sig)

        def running(self) -> bool:
            return process.running()

    return _CliCommand()


def blank_unset(env: Mapping[str, str | None]) -> dict[str, str]:
    """``env`` for a command that merges it over ``os.environ`` (a stock ``PulumiCommand``): a variable we
    remove (``None``) cannot be dropped there, so it is set empty, which Pulumi, its providers and
    google-auth all read as unset; a subprocess never sees ``None``."""
    return {key: "" if value is None else value for key, value in env.items()}


def guarded(command: Any, stopped: Flag) -> PulumiCommand:
    """Wrap a ``PulumiCommand`` so no new CLI call starts once the engine was asked to stop."""
    from pulumi.automation import CommandResult, OnOutput, PulumiCommand
    from pulumi.automation.errors import CommandError

    class _Guarded(PulumiCommand):
        def __init__(self) -> None:  # no super(): it would run `pulumi version` again
            self.command = command.command
            self.version = command.version

        def run(
            self,
            args: list[str],
            cwd: str,
            additional_env: Mapping[str, str | None],
            on_output: OnOutput | None = None,
            on_error: OnOutput | None = None,
        ) -> CommandResult:
            if stopped.is_set():
                raise CommandError(CommandResult(stdout="", stderr=STOPPED_TEXT, code=255))
            if not getattr(command, "removes_unset_env", False):
                additional_env = blank_unset(additional_env)
            result: CommandResult = command.run(args, cwd, additional_env, on_output, on_error)
            return result

        def interrupt(self) -> bool:
            interrupt = getattr(command, "interrupt", None)
            return bool(interrupt and interrupt())

        def __getattr__(self, name: str) -> Any:  # send_signal, running: only when the CLI has them
            return getattr(command, name)

    return _Guarded()
