"""The only module that touches ``pulumi.automation``.

It selects (or creates) the stack with the inline program, sets all config in one call, runs one
operation, streams the engine's output line by line, and translates Pulumi's errors into ours. Pulumi is
imported inside functions: DAG files import this package constantly and must not pay for it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_pulumi_decorators.cli import INSTALL_HINT, CliProcess, engine_environment, locate_cli
from airflow_pulumi_decorators.errors import (
    ConcurrentUpdateError,
    ConfigurationError,
    ProgramError,
    PulumiCliNotFoundError,
    PulumiEngineError,
    StackNotFoundError,
)
from airflow_pulumi_decorators.outputs import StackOutput

if TYPE_CHECKING:
    from pulumi.automation import PulumiCommand

OPERATIONS = ("up",)


@dataclass(frozen=True)
class OperationRequest:
    """Everything one engine run needs, as plain data.

    :param project: the Pulumi project name.
    :param stack: the stack name (``name``, ``org/name`` or ``org/project/name``).
    :param program: the inline program: a no-argument callable returning a mapping of outputs or ``None``.
    :param config: plaintext config.
    :param secret_config: config stored encrypted.
    :param env: variables for the engine's environment; a ``None`` value removes an inherited variable.
    :param message: the update message (who ran it, from where).
    :param operation: ``up``.
    :param secrets_provider: the secrets provider for a new stack (``passphrase``, ``gcpkms://…``);
        ``None`` lets the backend choose its default.
    :param pulumi_home: the ``PULUMI_HOME`` for this run; ``None`` leaves the worker's.
    """

    project: str
    stack: str
    program: Callable[[], Any]
    config: Mapping[str, str] = field(default_factory=dict)
    secret_config: Mapping[str, str] = field(default_factory=dict, repr=False)
    env: Mapping[str, str | None] = field(default_factory=dict, repr=False)
    message: str = ""
    operation: str = "up"
    secrets_provider: str | None = None
    pulumi_home: str | None = None


@dataclass(frozen=True)
class OperationResult:
    """What an operation did.

    :param outputs: stack outputs by name.
    :param changes: resource change counts by op (``create``, ``update``, ``delete``, ``same`` …).
    :param version: the update's version number in the backend, when it reports one.
    :param duration_s: wall time of the whole operation, stack selection included.
    """

    operation: str
    stack: str
    outputs: dict[str, StackOutput]
    changes: dict[str, int]
    version: int | None
    duration_s: float


def _pulumi_command(process: CliProcess) -> PulumiCommand:
    """Adapt a :class:`CliProcess` to Pulumi's ``PulumiCommand`` seam."""
    from pulumi.automation import PulumiCommand
    from pulumi.automation._cmd import CommandResult
    from pulumi.automation.errors import create_command_error

    class _CliCommand(PulumiCommand):
        def __init__(self) -> None:  # no super(): it would run `pulumi version` again
            self.command = process.path
            self.version = process.version

        def run(self, args, cwd, additional_env, on_output=None, on_error=None):
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

    return _CliCommand()


def _inline_program(program: Callable[[], Any]) -> Callable[[], None]:
    def run() -> None:
        import pulumi

        result = program()
        if result is None:
            return
        if not isinstance(result, Mapping):
            raise TypeError(
                f"a @pulumi_stack function must return a dict of stack outputs or None, got {type(result).__name__}"
            )
        for key, value in result.items():
            pulumi.export(str(key), value)

    return run


def _summary_changes(summary: Any) -> dict[str, int]:
    changes = getattr(summary, "resource_changes", None) or {}
    return {str(op): int(n) for op, n in changes.items()}


class Engine:
    """Runs Pulumi operations through the Automation API.

    :param cli_path: where the ``pulumi`` executable is (file or folder); ``None`` searches PATH.
    :param pulumi_command: a ready ``PulumiCommand`` (Pulumi's seam; the stand-in engine uses it). When
        given, ``cli_path`` is ignored.
    :param work_root: where the per-run Pulumi work directory is made (and removed afterwards).
    :param on_output: receives each line the engine prints.
    """

    def __init__(
        self,
        *,
        cli_path: str | None = None,
        pulumi_command: PulumiCommand | None = None,
        work_root: str | None = None,
        on_output: Callable[[str], None] = print,
    ) -> None:
        self.cli_path = cli_path
        self.pulumi_command = pulumi_command
        self.work_root = work_root
        self.on_output = on_output
        self._command: Any = None

    def _command_for(self, env: Mapping[str, str | None]) -> Any:
        if self.pulumi_command is not None:
            return self.pulumi_command
        from pulumi.automation._minimum_version import _MINIMUM_VERSION

        process = CliProcess(locate_cli(self.cli_path))
        process.check_version(engine_environment(os.environ, env), _MINIMUM_VERSION)
        return _pulumi_command(process)

    def run(self, request: OperationRequest) -> OperationResult:
        """Run one operation on one stack; always removes its work directory.

        :param request: what to run.
        :raises ProgramError: the inline program raised.
        :raises ConcurrentUpdateError: another update holds the stack.
        :raises PulumiEngineError: any other engine failure.
        """
        if request.operation not in OPERATIONS:
            raise ConfigurationError(f"'operation'={request.operation!r} is not one of {', '.join(OPERATIONS)}")
        from pulumi import automation as auto

        started = time.monotonic()
        self._command = self._command_for(request.env)
        work_dir = tempfile.mkdtemp(prefix="airflow-pulumi-", dir=self.work_root)
        try:
            with _translate_errors(request):
                opts = auto.LocalWorkspaceOptions(
                    work_dir=work_dir,
                    pulumi_command=self._command,
                    env_vars=dict(request.env),
                    project_settings=auto.ProjectSettings(name=request.project, runtime="python"),
                    secrets_provider=request.secrets_provider,
                    pulumi_home=request.pulumi_home,
                )
                stack = auto.create_or_select_stack(
                    stack_name=request.stack,
                    project_name=request.project,
                    program=_inline_program(request.program),
                    opts=opts,
                )
                values = {k: auto.ConfigValue(value=v, secret=False) for k, v in request.config.items()}
                values.update({k: auto.ConfigValue(value=v, secret=True) for k, v in request.secret_config.items()})
                if values:
                    stack.set_all_config(values)
                up = stack.up(
                    message=request.message or None,
                    on_output=self.on_output,
                    on_error=self.on_output,
                    color="never",
                    show_secrets=False,
                )
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
            self._command = None
        outputs = {k: StackOutput(value=v.value, secret=bool(v.secret)) for k, v in up.outputs.items()}
        return OperationResult(
            operation=request.operation,
            stack=request.stack,
            outputs=outputs,
            changes=_summary_changes(up.summary),
            version=getattr(up.summary, "version", None),
            duration_s=time.monotonic() - started,
        )

    def interrupt(self) -> bool:
        """Interrupt a running CLI (SIGINT), if there is one; returns whether a signal was sent."""
        command = self._command
        interrupt = getattr(command, "interrupt", None)
        return bool(interrupt and interrupt())


class _translate_errors:
    """The one boundary where Pulumi's errors become ours (Pulumi's ``create_command_error`` idea)."""

    def __init__(self, request: OperationRequest) -> None:
        self.request = request

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            return False
        from pulumi.automation import errors as perr

        where = {"stack": self.request.stack, "operation": self.request.operation}
        if isinstance(exc, perr.InlineSourceRuntimeError):
            raise ProgramError(
                f"the Pulumi program of stack {self.request.stack!r} raised; its traceback is in the log "
                f"above:\n{_program_error_text(exc)}",
                **where,
            ) from None
        if isinstance(exc, perr.ConcurrentUpdateError):
            raise ConcurrentUpdateError(
                f"stack {self.request.stack!r} is locked by another update:\n{_tail(exc)}", **where
            ) from None
        if isinstance(exc, perr.StackNotFoundError):
            raise StackNotFoundError(f"stack {self.request.stack!r} does not exist:\n{_tail(exc)}", **where) from None
        if isinstance(exc, perr.CommandError):
            text = _tail(exc)
            if "passphrase must be set" in text or "PULUMI_CONFIG_PASSPHRASE" in text:
                raise ConfigurationError(
                    f"stack {self.request.stack!r} encrypts its secrets with a passphrase, and none is set: set "
                    "PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) on the worker, or use another "
                    f"secrets provider.\n{text}"
                ) from None
            raise PulumiEngineError(
                f"pulumi {self.request.operation} failed on stack {self.request.stack!r}:\n{text}", **where
            ) from None
        if isinstance(exc, FileNotFoundError) and self.request is not None:
            raise PulumiCliNotFoundError(f"the Pulumi CLI could not be started ({exc}); {INSTALL_HINT}") from None
        return False


def _tail(exc: BaseException, lines: int = 20) -> str:
    stderr = getattr(exc, "stderr", "") or ""
    stdout = getattr(exc, "stdout", "") or ""
    text = stderr.strip() or stdout.strip() or str(exc)
    return "\n".join(text.splitlines()[-lines:])


def _program_error_text(exc: BaseException) -> str:
    text = (getattr(exc, "stdout", "") or "") + "\n" + (getattr(exc, "stderr", "") or "")
    marker = "python inline source runtime error:"
    for line in text.splitlines():
        if marker in line:
            return line.split(marker, 1)[1].strip() or line.strip()
    return _tail(exc, 5)
