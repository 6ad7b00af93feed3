"""The only module that touches ``pulumi.automation``.

It selects (or creates) the stack with the inline program, sets all config in one call, runs one
operation, streams the engine's output line by line, and translates Pulumi's errors into ours. Pulumi is
imported inside functions: DAG files import this package constantly and must not pay for it.
"""

from __future__ import annotations

import contextvars
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from airflow_pulumi_decorators.cli import INSTALL_HINT, CliProcess, plugins_dir, prepare_cli
from airflow_pulumi_decorators.errors import (
    ConcurrentUpdateError,
    BackendAccessError,
    ConfigurationError,
    DriftDetectedError,
    OutputError,
    OperationInterruptedError,
    PolicyViolationError,
    PluginInstallError,
    ProgramError,
    PulumiCliNotFoundError,
    PulumiEngineError,
    StackNotFoundError,
    StateCorruptError,
    WrongPassphraseError,
)
from airflow_pulumi_decorators.locks import (
    LockHolder,
    holder_note,
    parse_lock_holder,
    with_airflow_holder,
)
from airflow_pulumi_decorators.operations import OperationOptions, check_operation
from airflow_pulumi_decorators.outputs import StackOutput, check_output_names, plain_output

if TYPE_CHECKING:
    from pulumi.automation import PulumiCommand

#: Ops that are not changes (for ``has_changes`` and drift).
_NO_CHANGE_OPS = frozenset({"same", "read", "refresh"})
#: Text Pulumi prints when the previous update was killed with operations in flight.
_PENDING_MARKERS = ("pending operations from previous deployment", "interrupted while creating",
                    "interrupted while updating", "interrupted while deleting")


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
    :param operation: ``up``, ``preview``, ``refresh`` or ``destroy``.
    :param secrets_provider: the secrets provider for a new stack (``passphrase``, ``gcpkms://…``);
        ``None`` lets the backend choose its default.
    :param pulumi_home: the ``PULUMI_HOME`` for this run; ``None`` leaves the worker's.
    :param options: how the operation runs (:class:`OperationOptions`).
    :param multiple_outputs: the task pushes one XCom per output, so output names that are XCom keys the
        task already uses are refused (before anything is deployed).
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
    options: OperationOptions = field(default_factory=OperationOptions)
    multiple_outputs: bool = False


@dataclass(frozen=True)
class OperationResult:
    """What an operation did.

    :param outputs: stack outputs by name (``up`` only; empty otherwise).
    :param changes: resource change counts by op (``create``, ``update``, ``delete``, ``same`` …).
    :param version: the update's version number in the backend, when it reports one (not for previews).
    :param duration_s: wall time of the whole operation, stack selection included.
    :param steps: the steps that change something: ``{"op", "urn", "type", "name"}`` each.
    :param pending_operations: what a previous, hard-killed update left in flight (as Pulumi reported it).
    :param policy_violations: advisory violations (mandatory ones fail the operation).
    :param stack_removed: ``destroy`` removed the stack.
    :param attempts: how many times the operation was tried (more than one after waiting for a lock).
    """

    operation: str
    stack: str
    outputs: dict[str, StackOutput]
    changes: dict[str, int]
    version: int | None
    duration_s: float
    steps: list[dict[str, str]] = field(default_factory=list)
    pending_operations: list[str] = field(default_factory=list)
    policy_violations: list[dict[str, str]] = field(default_factory=list)
    stack_removed: bool = False
    attempts: int = 1

    @property
    def has_changes(self) -> bool:
        return any(n for op, n in self.changes.items() if op not in _NO_CHANGE_OPS)


class _Observer:
    """Collects what the engine's event stream and output say: steps, violations, pending operations."""

    def __init__(self, on_output: Callable[[str], None]) -> None:
        self.on_output = on_output
        self.steps: list[dict[str, str]] = []
        self._seen: set[tuple[str, str]] = set()
        self.violations: list[dict[str, str]] = []
        self.pending: list[str] = []
        self.summary_changes: dict[str, int] | None = None

    def line(self, text: str) -> None:
        lowered = text.lower()
        if any(marker in lowered for marker in _PENDING_MARKERS):
            self.pending.append(text.strip())
        self.on_output(text)

    def event(self, event: Any) -> None:
        # A step is announced before it runs; a refresh is announced as `refresh` and only its outputs
        # event says what it found (`update`, `delete`), so both events are read, once per urn and op.
        for kind in ("resource_pre_event", "res_outputs_event"):
            step = getattr(event, kind, None)
            if step is not None and step.metadata is not None:
                self._step(step.metadata)
        policy = getattr(event, "policy_event", None)
        if policy is not None:
            self.violations.append(
                {
                    "policy_pack": policy.policy_pack_name,
                    "policy": policy.policy_name,
                    "level": policy.enforcement_level,
                    "urn": policy.resource_urn or "",
                    "message": (policy.message or "").strip(),
                }
            )
        summary = getattr(event, "summary_event", None)
        if summary is not None:
            changes = getattr(summary, "resource_changes", None) or {}
            self.summary_changes = {str(getattr(op, "value", op)): int(n) for op, n in changes.items()}

    def _step(self, meta: Any) -> None:
        op = str(getattr(meta.op, "value", meta.op))
        # Default providers are steps of a real engine too, but no change anyone counts.
        if op in _NO_CHANGE_OPS or meta.type.startswith("pulumi:providers:"):
            return
        if (meta.urn, op) in self._seen:
            return
        self._seen.add((meta.urn, op))
        self.steps.append({"op": op, "urn": meta.urn, "type": meta.type, "name": meta.urn.rsplit("::", 1)[-1]})


def _pulumi_command(process: CliProcess) -> PulumiCommand:
    """Adapt a :class:`CliProcess` to Pulumi's ``PulumiCommand`` seam."""
    from pulumi.automation import PulumiCommand
    from pulumi.automation._cmd import CommandResult
    from pulumi.automation.errors import create_command_error

    class _CliCommand(PulumiCommand):
        removes_unset_env = True  # CliProcess builds the environment itself: None removes a variable

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

        def send_signal(self, sig: int) -> bool:
            return process.send_signal(sig)

        def running(self) -> bool:
            return process.running()

    return _CliCommand()


def _blank_unset(env: Mapping[str, str | None]) -> dict[str, str]:
    """``env`` for a command that merges it over ``os.environ`` (a stock ``PulumiCommand``): a variable we
    remove (``None``) cannot be dropped there, so it is set empty, which Pulumi, its providers and
    google-auth all read as unset; a subprocess never sees ``None``."""
    return {key: "" if value is None else value for key, value in env.items()}


def _guarded(command: Any, stopped: threading.Event) -> PulumiCommand:
    """Wrap a ``PulumiCommand`` so no new CLI call starts once the engine was asked to stop."""
    from pulumi.automation import PulumiCommand
    from pulumi.automation._cmd import CommandResult
    from pulumi.automation.errors import CommandError

    class _Guarded(PulumiCommand):
        def __init__(self) -> None:  # no super(): it would run `pulumi version` again
            self.command = command.command
            self.version = command.version

        masked_outputs: str | None = None

        def run(self, args, cwd, additional_env, on_output=None, on_error=None):
            if stopped.is_set():
                raise CommandError(CommandResult(stdout="", stderr="error: update canceled (task stopping)", code=255))
            if not getattr(command, "removes_unset_env", False):
                additional_env = _blank_unset(additional_env)
            masked = args[:2] == ["stack", "output"] and "--show-secrets" not in args  # before run() edits args
            result = command.run(args, cwd, additional_env, on_output, on_error)
            if masked:
                # The SDK compares masked and plain outputs only at the top level; keep the masked
                # form so a secret nested inside an output is found too (see _nested_secret).
                self.masked_outputs = result.stdout
            return result

        def interrupt(self) -> bool:
            interrupt = getattr(command, "interrupt", None)
            return bool(interrupt and interrupt())

        def __getattr__(self, name: str) -> Any:  # send_signal, running: only when the CLI has them
            return getattr(command, name)

    return _Guarded()


class _ProgramStopped(BaseException):
    """Raised inside a program the task gave up on, at its next Python instruction (not an ``Exception``,
    so a program's ``except Exception`` retry loop does not swallow it)."""


class _InlineProgram:
    """The user's function as Pulumi's inline program: checks the outputs it returns, remembers the error
    it raised and where it runs.

    Pulumi's language server runs the program, then its ``apply`` callbacks, on an event loop in a
    thread of its gRPC pool. A program that hangs keeps that thread busy after the engine is gone, and the
    interpreter joins pool threads at exit: the task process would never end. :meth:`release` lets it end.

    :param program: the bound user function.
    :param multiple_outputs: refuse output names that are XCom keys the task already uses.
    """

    def __init__(self, program: Callable[[], Any], *, multiple_outputs: bool = False) -> None:
        self.program = program
        self.multiple_outputs = multiple_outputs
        #: What the program (or our check of its outputs) raised; the engine reports it as text only.
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._loop: Any = None

    def __call__(self) -> None:
        import asyncio

        import pulumi

        self._thread, self._loop = threading.current_thread(), asyncio.get_running_loop()
        try:
            result = self.program()
            if result is None:
                return
            if not isinstance(result, Mapping):
                raise TypeError(
                    "a @pulumi_stack function must return a dict of stack outputs or None, got "
                    f"{type(result).__name__}"
                )
            check_output_names(result, multiple_outputs=self.multiple_outputs)
            for key, value in result.items():
                pulumi.export(str(key), self._checked(str(key), value))
        except Exception as exc:
            self.error = exc
            raise

    def _checked(self, key: str, value: Any) -> Any:
        """The value as JSON (see :func:`plain_output`); checked when it resolves if it holds Outputs."""
        if not _holds_outputs(value):
            return plain_output(key, value, passthrough=_engine_serialised)
        import pulumi

        def resolved(plain: Any) -> Any:
            try:
                return plain_output(key, plain, passthrough=_engine_serialised)
            except OutputError as exc:
                self.error = exc
                raise

        return pulumi.Output.from_input(value).apply(resolved)

    def release(self) -> bool:
        """If the program (or an ``apply`` of it) is still running, tell it to stop and stop the process from
        waiting for it.

        The program gets :class:`_ProgramStopped` at its next Python instruction (a call blocked in C,
        such as a long ``time.sleep``, sees it only when it returns), and its pool thread, a daemon
        thread, is taken off the list ``concurrent.futures`` joins at interpreter exit.

        :return: whether the program was still running.
        """
        thread, loop = self._thread, self._loop
        # The loop runs from the program's start until its last apply; then the thread is the pool's again.
        if thread is None or thread.ident is None or loop is None or not loop.is_running():
            return False
        import ctypes

        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(_ProgramStopped))
        _detach_pool_threads({thread})
        return True


def _holds_outputs(value: Any) -> bool:
    """Whether ``value`` is, or holds in a dict, list or tuple, a value known only later (an ``Output``)."""
    import inspect

    import pulumi

    if isinstance(value, pulumi.Output) or inspect.isawaitable(value):
        return True
    if isinstance(value, Mapping):
        return any(_holds_outputs(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_outputs(v) for v in value)
    return False


def _engine_serialised(value: Any) -> bool:
    """Values Pulumi serialises itself, deliberately: resources (as references), assets, typed inputs/outputs."""
    import pulumi
    from pulumi import _types

    return isinstance(value, (pulumi.Resource, pulumi.Asset, pulumi.Archive)) or (
        _types.is_output_type(type(value)) or _types.is_input_type(type(value))
    )


def _pool_threads() -> set[threading.Thread]:
    """The ``concurrent.futures`` pool threads the interpreter will join at exit (gRPC servers use them)."""
    from concurrent.futures import thread as pool

    return set(getattr(pool, "_threads_queues", {}).keys())


def _detach_pool_threads(threads: set[threading.Thread]) -> None:
    """Let the interpreter exit without joining these pool threads (they are daemon threads: they just
    end with the process). Used only for threads of an engine or program the task gave up on."""
    from concurrent.futures import thread as pool

    queues = getattr(pool, "_threads_queues", None)
    if queues is None:
        return
    for thread in threads:
        if thread.daemon:
            queues.pop(thread, None)


#: Seconds to wait, after telling a hung program to stop, for an engine that was waiting for it to end.
_PROGRAM_STOP_WAIT = 5.0

#: How the CLI shows a secret value when secrets are not revealed.
_SECRET_SENTINEL = "[secret]"


def _masked_outputs(stdout: str | None) -> dict[str, Any]:
    """The stack outputs as ``stack output --json`` shows them with secrets masked; ``{}`` if unknown."""
    try:
        parsed = json.loads(stdout or "{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _nested_secret(masked: Any) -> bool:
    """Whether a secret is anywhere inside an output (a dict key, a list item, a resource's property).

    A value that is literally ``"[secret]"`` counts as secret too: withholding it is the safe side.
    """
    if masked == _SECRET_SENTINEL:
        return True
    if isinstance(masked, dict):
        return any(_nested_secret(v) for v in masked.values())
    if isinstance(masked, list):
        return any(_nested_secret(v) for v in masked)
    return False


def _version(summary: Any) -> int | None:
    """The update's number; ``None`` where the backend numbers none (file, gs:// and other diy backends
    report 0)."""
    return getattr(summary, "version", None) or None


def _summary_changes(summary: Any) -> dict[str, int]:
    changes = getattr(summary, "resource_changes", None) or {}
    return {str(op): int(n) for op, n in changes.items()}


class Engine:
    """Runs Pulumi operations through the Automation API.

    The operation runs in a worker thread while the calling thread waits, so a task timeout or kill
    arriving in the calling thread can stop the engine gracefully (:meth:`stop`) before unwinding.

    :param cli_path: where the ``pulumi`` executable is (file or folder); ``None`` searches PATH.
    :param pulumi_command: a ready ``PulumiCommand`` (Pulumi's seam; the stand-in engine uses it). When
        given, ``cli_path`` is ignored. Removed variables reach it as ``""`` unless it declares
        ``removes_unset_env = True`` (it then gets ``None`` and drops the variable itself).
    :param work_root: where the per-run Pulumi work directory is made (and removed afterwards).
    :param on_output: receives each line the engine prints.
    :param on_warning: receives our own warnings (lock waits, pending operations); defaults to ``on_output``.
    """

    def __init__(
        self,
        *,
        cli_path: str | None = None,
        pulumi_command: PulumiCommand | None = None,
        work_root: str | None = None,
        on_output: Callable[[str], None] = print,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        self.cli_path = cli_path
        self.pulumi_command = pulumi_command
        self.work_root = work_root
        self.on_output = on_output
        self.on_warning = on_warning or on_output
        self._command: Any = None
        self._worker_done = threading.Event()
        self._worker_done.set()
        self._stop_requested = threading.Event()
        self._stop_outcome: str | None = None
        self._gave_up = threading.Event()  # stop() could not end the engine: the waiting thread moves on
        self._threads_before: set[threading.Thread] = set()
        self._program: _InlineProgram | None = None
        self._work_dir: str | None = None
        self._muted = False
        self._grace = 60.0

    def _command_for(self, env: Mapping[str, str | None]) -> Any:
        if self.pulumi_command is not None:
            return _guarded(self.pulumi_command, self._stop_requested)
        from pulumi.automation._minimum_version import _MINIMUM_VERSION

        process = prepare_cli(self.cli_path, env, sdk_minimum=_MINIMUM_VERSION, on_output=self.on_output)
        return _guarded(_pulumi_command(process), self._stop_requested)

    def run(self, request: OperationRequest) -> OperationResult:
        """Run one operation on one stack; always removes its work directory.

        :param request: what to run.
        :raises ProgramError: the inline program raised.
        :raises ConcurrentUpdateError: another update holds the stack (after ``lock_wait``).
        :raises DriftDetectedError: ``expect_no_changes`` and there were changes.
        :raises PolicyViolationError: a policy pack reported mandatory violations.
        :raises OperationInterruptedError: :meth:`stop` was called while it ran.
        :raises PulumiEngineError: any other engine failure.
        """
        check_operation(request.operation)
        # gRPC's C core logs each closed inline-program connection at INFO to stderr (the task log)
        # unless told otherwise before it is first imported; respect an explicit setting.
        os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
        started = time.monotonic()
        options = request.options
        self._grace = options.kill_grace_period
        if self._stop_requested.is_set():  # stopped (a task kill) before it started: start nothing
            self._stop_requested.clear()
            raise OperationInterruptedError(
                f"pulumi {request.operation} on stack {request.stack!r} was not started: the task was stopped "
                "before the engine ran; nothing was changed",
                stack=request.stack,
                operation=request.operation,
            )
        self._stop_outcome = None
        self._gave_up.clear()
        self._muted = False
        self._threads_before = _pool_threads()
        if "PULUMI_SKIP_UPDATE_CHECK" not in os.environ and "PULUMI_SKIP_UPDATE_CHECK" not in request.env:
            # Otherwise every CLI call asks api.pulumi.com for a newer release: a network call per
            # command, and a stall on workers that cannot reach it.
            request = replace(request, env={**request.env, "PULUMI_SKIP_UPDATE_CHECK": "true"})
        self._command = self._command_for(request.env)
        backend_url = request.env.get("PULUMI_BACKEND_URL") or os.environ.get("PULUMI_BACKEND_URL")
        deadline = started + max(options.lock_wait, 0.0)
        delay = max(options.lock_retry_delay, 0.1)
        attempts = 0
        cancelled_stale = False
        try:
            while True:
                attempts += 1
                observer = _Observer(self._emit)
                try:
                    with holder_note(backend_url, request.project, request.stack, request.message):
                        result = self._in_worker(lambda obs=observer: self._attempt(request, obs))
                    break
                except OperationInterruptedError as exc:
                    raise _interrupted(request, self._stop_outcome or "graceful", exc) from None
                except ConcurrentUpdateError as exc:
                    if self._stop_requested.is_set():
                        raise
                    holder = with_airflow_holder(
                        parse_lock_holder(str(exc)), backend_url, request.project, request.stack
                    )
                    exc.holder = holder  # type: ignore[attr-defined]
                    if holder.stale and options.cancel_stale_lock and not cancelled_stale:
                        cancelled_stale = True
                        self.on_warning(
                            f"pulumi: stack {request.stack!r} is locked by {holder.describe()}; "
                            "cancel_stale_lock is on: cancelling that lock (`pulumi cancel`) and retrying"
                        )
                        self._in_worker(lambda: self._cancel(request))
                        continue
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise self._lock_error(request, exc, holder, attempts, time.monotonic() - started) from None
                    wait = min(delay, remaining)
                    self.on_warning(
                        f"pulumi: stack {request.stack!r} is locked by {holder.describe()}; retrying in "
                        f"{wait:.1f}s ({time.monotonic() - started:.0f}s of lock_wait={options.lock_wait:.0f}s used)"
                    )
                    if self._stop_requested.wait(wait):
                        raise OperationInterruptedError(
                            f"pulumi {request.operation} on stack {request.stack!r} was stopped while waiting for "
                            f"the stack lock held by {holder.describe()}; nothing was changed",
                            stack=request.stack,
                            operation=request.operation,
                        ) from None
                    delay = min(delay * 2, 60.0)
        finally:
            self._command = None
            self._stop_requested.clear()  # a stop applies to this run only
        if observer.pending:
            self.on_warning(_pending_warning(request.stack, observer.pending))
        return OperationResult(
            operation=request.operation,
            stack=request.stack,
            outputs=result["outputs"],
            changes=result["changes"],
            version=result["version"],
            duration_s=time.monotonic() - started,
            steps=observer.steps,
            pending_operations=observer.pending,
            policy_violations=[v for v in observer.violations if v["level"] != "mandatory"],
            stack_removed=result["removed"],
            attempts=attempts,
        )

    def _lock_error(
        self, request: OperationRequest, exc: ConcurrentUpdateError, holder: LockHolder, attempts: int, waited: float
    ) -> ConcurrentUpdateError:
        advice = (
            "Recover: the holder's process is gone, so nothing will release the lock: check the stack, then "
            "run `pulumi cancel --stack {s}` (or set cancel_stale_lock=True), and `refresh` if resources "
            "were being created."
            if holder.stale
            else "Wait for it, or let this task wait longer with lock_wait=…; serialise runs on this stack "
            "with an Airflow pool of one slot (see docs/operations.md)."
        ).format(s=request.stack)
        waited_text = f" after {attempts} attempts over {waited:.0f}s" if attempts > 1 else ""
        error = ConcurrentUpdateError(
            f"stack {request.stack!r} is locked by another update{waited_text}: held by {holder.describe()}. "
            f"{advice}\n{_tail(exc)}",
            stack=request.stack,
            operation=request.operation,
        )
        error.holder = holder  # type: ignore[attr-defined]
        return error

    def _emit(self, line: str) -> None:
        if not self._muted:  # an engine the task gave up on must not write into a finished task's log
            self.on_output(line)

    def _give_up(self) -> bool:
        """The engine did not stop. Tell a still-running program to stop (an in-process engine then ends
        the update, writes state and releases the lock); if the engine still runs, release its threads so
        the process can exit, and go on without it.

        :return: whether the engine ended after all.
        """
        program = self._program
        running = program is not None and program.release()
        if running and self._worker_done.wait(_PROGRAM_STOP_WAIT):
            self._stop_outcome = "graceful"
            self.on_warning("pulumi: the program was still running; it was told to stop, and the engine then ended")
            return True
        self._muted = True
        # The engine's own pool threads (an in-process engine, its event stream) wait for it forever.
        _detach_pool_threads(_pool_threads() - self._threads_before)
        if self._work_dir:  # the worker thread will not reach its own clean-up before the process ends
            shutil.rmtree(self._work_dir, ignore_errors=True)
        self.on_warning(
            f"pulumi: the engine did not stop within kill_grace_period={self._grace:g}s; the task gives up on it"
            + ("; its program is still running (blocked outside Python) and the task process no longer waits for it"
               if running else "")
        )
        return False

    def _in_worker(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` in a worker thread; if the waiting thread is interrupted, stop the engine first.

        A kill (``on_kill`` → :meth:`stop`) does not interrupt this thread; when :meth:`stop` gives up on
        the engine, the wait ends here with :class:`OperationInterruptedError` instead of lasting forever.
        """
        box: dict[str, Any] = {}
        context = contextvars.copy_context()  # the program may read Airflow's context variables

        def target() -> None:
            try:
                box["value"] = context.run(fn)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                box["error"] = exc
            finally:
                self._worker_done.set()

        self._worker_done.clear()
        worker = threading.Thread(target=target, name="pulumi-engine", daemon=True)
        worker.start()
        try:
            while not self._worker_done.wait(0.1):
                if self._gave_up.is_set() and not self._give_up():
                    raise OperationInterruptedError(
                        f"the engine did not stop ({self._stop_outcome})", outcome=self._stop_outcome or "abandoned"
                    )
        except OperationInterruptedError:
            raise
        except BaseException:
            # A timeout (AirflowTaskTimeout) or Ctrl-C lands here, in the waiting thread: stop the engine
            # so it writes its state and releases the lock, instead of abandoning it mid-update.
            outcome = self.stop()
            if not self._worker_done.is_set():
                self._give_up()
            elif outcome:
                self.on_warning(f"pulumi: engine stop outcome: {outcome}")
            raise
        worker.join()
        if "error" in box:
            raise box["error"]
        return box["value"]

    def _workspace(self, request: OperationRequest, work_dir: str) -> Any:
        from pulumi import automation as auto

        return auto.LocalWorkspaceOptions(
            work_dir=work_dir,
            pulumi_command=self._command,
            env_vars=dict(request.env),
            project_settings=auto.ProjectSettings(name=request.project, runtime="python"),
            secrets_provider=request.secrets_provider,
            pulumi_home=request.pulumi_home,
        )

    def _attempt(self, request: OperationRequest, observer: _Observer) -> dict[str, Any]:
        from pulumi import automation as auto

        options = request.options
        work_dir = self._work_dir = tempfile.mkdtemp(prefix="airflow-pulumi-", dir=self.work_root)
        try:
            with _translate_errors(
                request, observer, lambda: self._stop_requested.is_set(), self._outcome, lambda: self._program
            ):
                program = self._program = _InlineProgram(request.program, multiple_outputs=request.multiple_outputs)
                opts = self._workspace(request, work_dir)
                if request.operation in ("up", "preview"):
                    stack = auto.create_or_select_stack(
                        stack_name=request.stack, project_name=request.project, program=program, opts=opts
                    )
                else:  # refresh/destroy of a stack that does not exist is an error, not a new stack
                    stack = auto.select_stack(
                        stack_name=request.stack, project_name=request.project, program=program, opts=opts
                    )
                values = {k: auto.ConfigValue(value=v, secret=False) for k, v in request.config.items()}
                values.update({k: auto.ConfigValue(value=v, secret=True) for k, v in request.secret_config.items()})
                if values:
                    stack.set_all_config(values)
                common: dict[str, Any] = {
                    "message": request.message or None,
                    "on_output": observer.line,
                    "on_error": observer.line,
                    "on_event": observer.event,
                    "color": "never",
                }
                policy: dict[str, Any] = {}
                if options.policy_packs:
                    policy["policy_packs"] = list(options.policy_packs)
                if options.policy_pack_configs:
                    policy["policy_pack_configs"] = list(options.policy_pack_configs)
                flags = {"expect_no_changes": True} if options.expect_no_changes else {}
                if options.refresh:
                    flags["refresh"] = True
                outputs: dict[str, StackOutput] = {}
                version = None
                removed = False
                if request.operation == "up":
                    res = stack.up(show_secrets=False, **common, **policy, **flags)
                    masked = _masked_outputs(getattr(self._command, "masked_outputs", None))
                    outputs = {
                        k: StackOutput(value=v.value, secret=bool(v.secret) or _nested_secret(masked.get(k)))
                        for k, v in res.outputs.items()
                    }
                    changes, version = _summary_changes(res.summary), _version(res.summary)
                elif request.operation == "preview":
                    res = stack.preview(**common, **policy, **flags)
                    changes = {str(getattr(op, "value", op)): int(n) for op, n in (res.change_summary or {}).items()}
                elif request.operation == "refresh":
                    extra = {"clear_pending_creates": True} if options.clear_pending_creates else {}
                    if options.preview_only:
                        res = stack.preview_refresh(show_secrets=False, **common, **flags, **extra)
                    else:
                        res = stack.refresh(show_secrets=False, **common, **flags, **extra)
                    changes = _summary_changes(getattr(res, "summary", None))
                    version = None if options.preview_only else _version(res.summary)
                    if observer.summary_changes is not None and not changes:
                        changes = dict(observer.summary_changes)
                else:
                    res = stack.destroy(show_secrets=False, remove=options.remove_stack or None, **common, **flags)
                    changes, version = _summary_changes(res.summary), _version(res.summary)
                    removed = options.remove_stack
                if observer.summary_changes is not None and request.operation == "preview" and not changes:
                    changes = dict(observer.summary_changes)
                if options.expect_no_changes and request.operation in ("preview", "refresh"):
                    _raise_on_drift(request, changes, observer.steps)
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
            # The engine is done; a program still running (it hung, the engine was stopped) can never finish
            # usefully, and would keep the task process alive.
            if self._program is not None and self._program.release() and not self._muted:
                self.on_warning("pulumi: the program was still running when the engine ended; it was told to stop")
            self._program = None
        return {"outputs": outputs, "changes": changes, "version": version, "removed": removed}

    def _cancel(self, request: OperationRequest) -> None:
        from pulumi import automation as auto

        work_dir = tempfile.mkdtemp(prefix="airflow-pulumi-", dir=self.work_root)
        try:
            with _translate_errors(request, None, lambda: False, lambda: None):
                stack = auto.select_stack(
                    stack_name=request.stack,
                    project_name=request.project,
                    program=lambda: None,
                    opts=self._workspace(request, work_dir),
                )
                stack.cancel()
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)

    def _outcome(self) -> str | None:
        return self._stop_outcome

    def interrupt(self) -> bool:
        """Interrupt a running CLI (SIGINT), if there is one; returns whether a signal was sent."""
        command = self._command
        interrupt = getattr(command, "interrupt", None)
        return bool(interrupt and interrupt())

    def stop(self, grace_period: float | None = None) -> str | None:
        """Stop a running operation: interrupt, wait, then escalate. Safe to call from a signal handler.

        SIGINT lets the CLI finish the resource steps in flight, write its state and release the stack
        lock. If it is still running after ``grace_period`` seconds it gets SIGTERM, and SIGKILL 5 s
        later (then pending operations and a lock may be left; the next run reports them).

        :param grace_period: seconds to wait after the interrupt; defaults to the request's
            ``kill_grace_period``.
        :return: ``graceful``, ``terminated``, ``killed``, ``abandoned`` (an in-process engine that did not
            stop) or ``None`` when nothing was running.
        """
        self._stop_requested.set()  # also refuses further CLI calls, ends a lock wait, or the run not yet started
        if self._worker_done.is_set():
            return None
        grace = self._grace if grace_period is None else grace_period
        command = self._command
        self.interrupt()
        if self._worker_done.wait(grace):
            self._stop_outcome = "graceful"
            return self._stop_outcome
        send = getattr(command, "send_signal", None)
        if not callable(send):
            self._stop_outcome = "abandoned"  # an in-process engine cannot be forced
            self._gave_up.set()
            return self._stop_outcome
        for sig, outcome in ((signal.SIGTERM, "terminated"), (signal.SIGKILL, "killed")):
            self._stop_outcome = outcome
            send(sig)
            if self._worker_done.wait(5.0):
                return outcome
        self._gave_up.set()
        return self._stop_outcome


def _interrupted(request: OperationRequest, outcome: str, exc: BaseException) -> OperationInterruptedError:
    if outcome == "graceful":
        what = ("the engine stopped gracefully: it wrote its state and released the stack lock, so the next run "
                "continues from there")
    elif outcome == "abandoned":
        what = "the in-process engine did not stop in time; the task gave up on it"
    else:
        what = (f"the engine did not stop within kill_grace_period={request.options.kill_grace_period:g}s and was "
                f"{outcome}; the stack may stay locked and have pending operations: the next run says so; recover "
                "with cancel_stale_lock=True (or `pulumi cancel`) and operation='refresh'")
    return OperationInterruptedError(
        f"pulumi {request.operation} on stack {request.stack!r} was interrupted (task killed or timed out); "
        f"{what}.\n{exc}",
        stack=request.stack,
        operation=request.operation,
        outcome=outcome,
    )


def _pending_warning(stack: str, pending: list[str]) -> str:
    listed = "\n  ".join(pending[:20])
    return (
        f"pulumi: the previous update of stack {stack!r} was killed while operations were in flight:\n  {listed}\n"
        "These resources may or may not exist. Recover with a refresh (operation='refresh'; add "
        "clear_pending_creates=True to drop pending creates after checking the cloud), then run the update again."
    )


def _raise_on_drift(request: OperationRequest, changes: Mapping[str, int], steps: list[dict[str, str]]) -> None:
    changed = {op: n for op, n in changes.items() if op not in _NO_CHANGE_OPS and n}
    if not changed:
        return
    listed = "\n".join(f"  {s['op']} {s['type']} {s['name']}" for s in steps) or "  (no per-resource detail)"
    raise DriftDetectedError(
        f"stack {request.stack!r} has drifted: {request.operation} expected no changes but found "
        f"{', '.join(f'{op}={n}' for op, n in sorted(changed.items()))}:\n{listed}",
        stack=request.stack,
        operation=request.operation,
        changes=dict(changes),
        steps=steps,
    )


class _translate_errors:
    """The one boundary where Pulumi's errors become ours (Pulumi's ``create_command_error`` idea)."""

    def __init__(
        self,
        request: OperationRequest,
        observer: _Observer | None,
        stopped: Callable[[], bool],
        outcome: Callable[[], str | None],
        program: Callable[[], _InlineProgram | None] = lambda: None,
    ) -> None:
        self.request = request
        self.observer = observer
        self.stopped = stopped
        self.outcome = outcome
        self.program = program

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            return False
        from pulumi.automation import errors as perr

        request = self.request
        where = {"stack": request.stack, "operation": request.operation}
        if isinstance(exc, perr.CommandError) and self.stopped():
            raise OperationInterruptedError(
                f"pulumi {request.operation} on stack {request.stack!r} was interrupted:\n{_tail(exc, 5)}", **where
            ) from None
        if isinstance(exc, perr.InlineSourceRuntimeError):
            program = self.program()
            raised = program.error if program is not None else None
            if isinstance(raised, OutputError):  # our own check of the outputs, already clear and typed
                raise raised from None
            raise _program_error(request, exc, raised) from None
        if isinstance(exc, perr.ConcurrentUpdateError):
            raise ConcurrentUpdateError(
                f"stack {request.stack!r} is locked by another update:\n{_tail(exc)}", **where
            ) from None
        if isinstance(exc, perr.StackNotFoundError):
            raise StackNotFoundError(
                f"stack {request.stack!r} does not exist in backend {_backend_url(request)}, so there is nothing to "
                f"{request.operation}: nothing was ever deployed to it for this environment, or it was removed. "
                "If it should exist, check the stack name (the environment's stack, or the task's 'stack') and the "
                "backend (the pulumi connection, [pulumi] backend_url or PULUMI_BACKEND_URL); a destroy of a stack "
                f"that was never deployed has nothing to do, so drop the task or run it after an up.\n{_tail(exc)}",
                **where,
            ) from None
        if isinstance(exc, perr.CommandError):
            text = _tail(exc)
            mandatory = [v for v in (self.observer.violations if self.observer else []) if v["level"] == "mandatory"]
            if mandatory:
                listed = "\n".join(
                    f"  [{v['level']}] {v['policy_pack']}/{v['policy']}: {v['message']}"
                    + (f" ({v['urn'].rsplit('::', 1)[-1]})" if v["urn"] else "")
                    for v in mandatory
                )
                raise PolicyViolationError(
                    f"pulumi {request.operation} on stack {request.stack!r} was refused by policy "
                    f"({len(mandatory)} mandatory violation(s)):\n{listed}",
                    violations=mandatory,
                    **where,
                ) from None
            if "no changes were expected" in text:  # --expect-no-changes (ExitNoChanges)
                steps = self.observer.steps if self.observer else []
                changes = dict(self.observer.summary_changes or {}) if self.observer else {}
                try:
                    _raise_on_drift(request, changes or {"update": max(len(steps), 1)}, steps)
                except DriftDetectedError as drift:  # the finding, not Pulumi's CommandError chained in front
                    raise drift from None
            missing = _MISSING_PLUGIN.search(text)
            if missing:
                kind, name, version = missing.groups()
                home = {"PULUMI_HOME": request.pulumi_home} if request.pulumi_home else {}
                cache = plugins_dir({**os.environ, **home})
                raise PluginInstallError(
                    f"pulumi {request.operation} on stack {request.stack!r} needs the {kind} plugin {name} "
                    f"{version}, which is not installed in {cache} and could not be downloaded. Pre-install it "
                    f"in the worker image: `PULUMI_HOME=<a folder whose plugins/ is {cache}> pulumi plugin install "
                    f"{kind} {name} {version}` (add --file or --server for a plugin not on Pulumi's registry), "
                    f"put pulumi-{kind}-{name} on the worker's PATH, or list it in [pulumi] plugins "
                    f"(docs/worker-setup.md).\n{text}"
                ) from None
            if "incorrect passphrase" in text:
                source = _passphrase_source(request)
                raise WrongPassphraseError(
                    f"stack {request.stack!r} cannot decrypt its secrets: the passphrase from {source} is not the "
                    "one the stack was created with. Set that passphrase to the stack's (or point "
                    "PULUMI_CONFIG_PASSPHRASE_FILE at a file holding it); a stack's passphrase cannot be changed "
                    f"this way, only with `pulumi stack change-secrets-provider`.\n{text}",
                    source=source,
                ) from None
            corrupt = _corrupt_state(request, text)
            if corrupt is not None:
                raise corrupt from None
            unreachable = _backend_unreachable(request, text)
            if unreachable is not None:
                raise unreachable from None
            if "passphrase must be set" in text or "PULUMI_CONFIG_PASSPHRASE" in text:
                raise ConfigurationError(
                    f"stack {request.stack!r} encrypts its secrets with a passphrase, and none is set: set "
                    "PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) on the worker, or use another "
                    f"secrets provider.\n{text}"
                ) from None
            raise PulumiEngineError(
                f"pulumi {request.operation} failed on stack {request.stack!r}:\n{text}", **where
            ) from None
        if isinstance(exc, FileNotFoundError) and request is not None:
            raise PulumiCliNotFoundError(f"the Pulumi CLI could not be started ({exc}); {INSTALL_HINT}") from None
        return False


def _backend_url(request: OperationRequest) -> str:
    return request.env.get("PULUMI_BACKEND_URL") or os.environ.get("PULUMI_BACKEND_URL") or "(the CLI's default)"


def _passphrase_source(request: OperationRequest) -> str:
    """Where the engine's passphrase came from, in words (never the passphrase)."""
    if request.env.get("PULUMI_CONFIG_PASSPHRASE"):
        return "the pulumi connection (its extra 'config_passphrase')"
    if "PULUMI_CONFIG_PASSPHRASE" not in request.env and os.environ.get("PULUMI_CONFIG_PASSPHRASE"):
        return "the worker's PULUMI_CONFIG_PASSPHRASE"
    path = request.env.get("PULUMI_CONFIG_PASSPHRASE_FILE") or os.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if path:
        return f"the file PULUMI_CONFIG_PASSPHRASE_FILE={path}"
    return "the engine's environment"


#: How the CLI (and the stand-in, in its words) says a stack's checkpoint is not valid JSON.
_CORRUPT_MARKER = "failed to load checkpoint"


def _corrupt_state(request: OperationRequest, text: str) -> StateCorruptError | None:
    if _CORRUPT_MARKER not in text:
        return None
    backend = _backend_url(request)
    path = None
    if backend.startswith("file://"):
        project, name = request.project, request.stack.rsplit("/", 1)[-1]
        root = os.path.join(backend[len("file://"):], ".pulumi")
        path = os.path.join(root, "stacks", project, f"{name}.json")
        where = (
            f"its checkpoint file {path} is not valid JSON (truncated or overwritten). Restore it: copy the newest "
            f"good copy from {os.path.join(root, 'backups', project, name)}/ (the CLI keeps one per update) or from "
            "your backups over it"
        )
    else:
        where = f"its checkpoint in backend {backend} is not valid JSON. Restore it from the backend's backups"
    return StateCorruptError(
        f"the state of stack {request.stack!r} cannot be read: {where}, then run operation='refresh' to "
        f"reconcile it with the cloud.\n{_tail_text(text, 5)}",
        stack=request.stack,
        operation=request.operation,
        path=path,
    )


#: How the CLI (and the stand-in, in its words) says the state folder cannot be opened or written: the folder
#: itself, or a write into it (Go's error texts).
_BACKEND_MARKERS = ("unable to open state directory", "permission denied", "read-only file system")


def _backend_unreachable(request: OperationRequest, text: str) -> BackendAccessError | None:
    if not any(marker in text for marker in _BACKEND_MARKERS):
        return None
    backend = _backend_url(request)
    return BackendAccessError(
        f"the state backend {backend} cannot be opened or written by the worker (a missing or read-only folder, "
        "or a path under a file). Point the backend at a folder the worker's user can write (the pulumi "
        "connection's host, [pulumi] backend_url or PULUMI_BACKEND_URL), or fix the folder's permissions."
        f"\n{_tail_text(text, 5)}",
        backend=backend,
    )


_MISSING_PLUGIN = re.compile(
    r"(?:Could not automatically download and install|no) (\w+) plugin 'pulumi-\w+-([^']+)' "
    r"(?:at version|found in the workspace at version) (v?[\w.+-]+)"
)


def _tail_text(text: str, lines: int) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _tail(exc: BaseException, lines: int = 20) -> str:
    stderr = getattr(exc, "stderr", "") or ""
    stdout = getattr(exc, "stdout", "") or ""
    text = stderr.strip() or stdout.strip() or str(exc)
    return "\n".join(text.splitlines()[-lines:])


_INLINE_MARKER = "python inline source runtime error:"
#: Pulumi's Python SDK names the resource whose inputs it was resolving when an ``apply`` failed.
_RESOURCE_IN_ERROR = re.compile(r"While processing resource: '([^']*)', type: '([^']*)'")
#: ... and each exception of the chain as ``ValueError has risen: <message>``.
_RISEN = re.compile(r"^\s*([A-Za-z_][\w.]*) has risen: (.*)$", re.MULTILINE)
#: The last line of a Python traceback: ``KeyError: 'x'``, ``botocore.exceptions.ClientError: ...``.
_EXCEPTION_LINE = re.compile(r"^\s*((?:[a-z_][\w]*\.)*[A-Z_][\w]*)(?:: (.*))?$")


def _program_error(request: OperationRequest, exc: BaseException, raised: BaseException | None) -> ProgramError:
    """A :class:`ProgramError` that says what the program raised (type and message) and, for a failure in
    an ``apply`` feeding a resource, which resource; the full traceback stays in the task log."""
    text = str(exc)  # Pulumi's CommandError: the CLI's exit code, stdout and stderr
    if raised is not None:
        kind, message = type(raised).__name__, str(raised)
    else:
        kind, message = _raised_in(text)
    resource = _RESOURCE_IN_ERROR.search(text)
    where = (
        f", in an apply or input of resource {resource.group(1)!r} (type {resource.group(2)})" if resource else ""
    )
    what = f"{kind}: {message}" if kind else message
    error = ProgramError(
        f"the Pulumi program of stack {request.stack!r} raised {what}{where}. Fix the program; its full "
        "traceback is in the task log above.",
        stack=request.stack,
        operation=request.operation,
    )
    error.exception_type = kind
    error.exception_message = message
    error.resource = (resource.group(1), resource.group(2)) if resource else None
    return error


def _raised_in(text: str) -> tuple[str, str]:
    """``(exception type, message)`` of what the program raised, read from Pulumi's report of it."""
    risen = [(k, m.strip()) for k, m in _RISEN.findall(text) if not m.startswith("While processing")]
    if risen:
        return risen[-1]
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if "Traceback (most recent call last):" in line]
    if starts:
        # The exception line is indented like its "Traceback" line; frames and code lines are indented more.
        head = lines[starts[-1]]
        indent = head[: len(head) - len(head.lstrip())]
        for line in reversed(lines[starts[-1] + 1:]):
            found = _EXCEPTION_LINE.match(line)
            if found and line.startswith(indent) and not line[len(indent):].startswith((" ", "\t")):
                return found.group(1), (found.group(2) or "").strip()
    for line in lines:
        if _INLINE_MARKER in line:
            return "", line.split(_INLINE_MARKER, 1)[1].strip()
    return "", "\n".join(lines[-5:]).strip()
