"""The engine: runs one operation in a worker thread, retries (with back-off) while another update holds
the stack lock, and stops gracefully when the task is killed or times out."""

from __future__ import annotations

import contextvars
import functools
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from airflow_pulumi_decorators.cli import prepare_cli
from airflow_pulumi_decorators.engine.commands import cli_command, guarded, install_pulumi_cli
from airflow_pulumi_decorators.engine.compat import sdk_minimum_cli
from airflow_pulumi_decorators.engine.events import Observer, line_level, pending_warning
from airflow_pulumi_decorators.engine.flag import Flag
from airflow_pulumi_decorators.engine.lockwait import LockWait
from airflow_pulumi_decorators.engine.operation import Done, open_stack, run_operation, sdk_version
from airflow_pulumi_decorators.engine.program import (
    PROGRAM_STOP_WAIT,
    InlineProgram,
    detach_pool_threads,
    pool_threads,
)
from airflow_pulumi_decorators.engine.request import OperationRequest, OperationResult, RunContext
from airflow_pulumi_decorators.engine.stack import read_outputs, run_stack, workspace_options
from airflow_pulumi_decorators.engine.translate import interrupted, lock_error, translate
from airflow_pulumi_decorators.errors import ConcurrentUpdateError, OperationInterruptedError
from airflow_pulumi_decorators.locks import (
    HolderNote,
    LockHolder,
    forget_holder,
    holder_note,
    judge_by_airflow,
    parse_lock_holder,
    with_airflow_holder,
)
from airflow_pulumi_decorators.operations import check_operation
from airflow_pulumi_decorators.outputs import StackOutput

if TYPE_CHECKING:
    from pulumi.automation import PulumiCommand


@contextmanager
def _translated(
    request: OperationRequest,
    observer: Observer | None = None,
    stopped: Callable[[], bool] = lambda: False,
    program: Callable[[], InlineProgram | None] = lambda: None,
) -> Iterator[None]:
    """Raise our error (see :func:`~airflow_pulumi_decorators.engine.translate.translate`) for Pulumi's."""
    try:
        yield
    except Exception as exc:
        current = program()
        ours = translate(
            request, exc, observer=observer, stopped=stopped(),
            raised=current.error if current is not None else None,
        )
        if ours is None:
            raise
        raise ours from None


def _no_program() -> None:
    """The program of a request that runs none (reading outputs)."""


@dataclass(frozen=True)
class Attempt:
    """One attempt of the operation: its event stream and its inline program.

    :param observer: the attempt's event stream.
    :param program: the user's function as the attempt's inline program.
    """

    observer: Observer
    program: InlineProgram


def without_update_check(request: OperationRequest) -> OperationRequest:
    """The request with the CLI's update check off, unless the worker or the run chose."""
    context = request.context
    if "PULUMI_SKIP_UPDATE_CHECK" in os.environ or "PULUMI_SKIP_UPDATE_CHECK" in context.extra_env:
        return request
    # Otherwise every CLI call asks api.pulumi.com for a newer release: a network call per
    # command, and a stall on workers that cannot reach it.
    return replace(request, context=context.with_env({"PULUMI_SKIP_UPDATE_CHECK": "true"}))


def result_of(
    request: OperationRequest, attempt: Attempt, done: Done, attempts: int, duration: float
) -> OperationResult:
    """What the run reports: the successful attempt's results, its steps and warnings, the attempts made.

    :param attempt: the attempt that succeeded.
    :param done: what its operation returned.
    :param attempts: how many were made.
    :param duration: the run's wall time, lock waits included.
    """
    observer = attempt.observer
    return OperationResult(
        operation=request.operation,
        stack=request.stack,
        outputs=done.outputs,
        changes=done.changes,
        version=done.version,
        duration_s=duration,
        steps=observer.steps,
        pending_operations=observer.pending,
        policy_violations=observer.advisory_violations,
        stack_removed=done.removed,
        attempts=attempts,
        declared_outputs=attempt.program.declared,
        resources=observer.resource_list,
        cli_version=done.cli_version,
        sdk_version=sdk_version(),
    )


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
    :param on_warning: receives our own warnings (lock waits, pending operations) and the engine's
        ``warning:`` lines; defaults to ``on_output``.
    :param on_error: receives the engine's ``error:`` lines; defaults to ``on_warning``.
    """

    def __init__(
        self,
        *,
        cli_path: str | None = None,
        pulumi_command: PulumiCommand | None = None,
        work_root: str | None = None,
        on_output: Callable[[str], None] = print,
        on_warning: Callable[[str], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.cli_path = cli_path
        self.pulumi_command = pulumi_command
        self.work_root = work_root
        self.on_output = on_output
        self.on_warning = on_warning or on_output
        self.on_error = on_error or self.on_warning
        self._command: Any = None
        self._worker_done = Flag()
        self._worker_done.set()
        self._stop_requested = Flag()
        self._stop_outcome: str | None = None
        self._gave_up = Flag()  # stop() could not end the engine: the waiting thread moves on
        self._threads_before: set[threading.Thread] = set()
        self._program: InlineProgram | None = None
        self._work_dir: str | None = None
        self._muted = False
        self._grace = 60.0
        self._note: HolderNote | None = None  # the running attempt's holder note

    def _command_for(self, env: dict[str, str | None]) -> Any:
        if self.pulumi_command is not None:
            return guarded(self.pulumi_command, self._stop_requested)
        process = prepare_cli(
            self.cli_path, env, sdk_minimum=sdk_minimum_cli(), on_output=self.on_output, installer=install_pulumi_cli,
            on_warning=self.on_warning,
        )
        # The lock file names the CLI's pid: the attempt's holder note names each CLI process while it runs.
        process.on_spawn = self._cli_started
        process.on_exit = self._cli_ended
        return guarded(cli_command(process), self._stop_requested)

    def _cli_started(self, pid: int) -> None:
        note = self._note
        if note is not None:
            note.add_pid(pid)

    def _cli_ended(self, pid: int) -> None:
        note = self._note
        if note is not None:
            note.drop_pid(pid)

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
        self._grace = request.options.kill_grace_period
        self._start(request)
        request = without_update_check(request)
        self._command = self._command_for(request.context.env)
        wait = LockWait(started, request.options.lock_wait, request.options.lock_retry_delay)
        try:
            attempt, done = self._until_unlocked(request, wait)
        finally:
            self._command = None
            self._stop_requested.clear()  # a stop applies to this run only
        if attempt.observer.pending:
            self.on_warning(pending_warning(request.stack, attempt.observer.pending))
        return result_of(request, attempt, done, wait.attempts, time.monotonic() - started)

    def outputs(self, project: str, stack: str, context: RunContext) -> dict[str, StackOutput]:
        """Read a stack's current outputs, secrets revealed, without running a program or writing state; always
        removes its work directory. Nothing of a value reaches ``on_output``.

        :param project: the Pulumi project.
        :param stack: the stack, as an operation selects it.
        :param context: the backend, ``PULUMI_HOME`` and engine environment (access token, passphrase).
        :raises StackNotFoundError: the stack does not exist.
        :raises WrongPassphraseError: the passphrase is not the stack's.
        :raises ConfigurationError: no passphrase is set, or the backend cannot be opened.
        :raises PulumiEngineError: any other engine failure.
        """
        request = without_update_check(
            OperationRequest(project=project, stack=stack, program=_no_program, context=context)
        )
        command = self._command_for(request.context.env)
        work_dir = tempfile.mkdtemp(prefix="airflow-pulumi-", dir=self.work_root)
        try:
            with _translated(request):
                options = {**workspace_options(request, work_dir, command)}
                return read_outputs(request, options)
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)

    def _start(self, request: OperationRequest) -> None:
        """Reset what a previous run left; a stop (a task kill) before the start starts nothing."""
        if self._stop_requested.is_set():
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
        self._threads_before = pool_threads()

    def _until_unlocked(self, request: OperationRequest, wait: LockWait) -> tuple[Attempt, Done]:
        """Attempt the operation until the stack lock does not refuse it, within ``lock_wait``; the attempt
        that succeeded and what it returned."""
        while True:
            wait.attempt()
            program = InlineProgram(request.program, multiple_outputs=request.multiple_outputs)
            attempt = Attempt(Observer(self._emit), program)
            try:
                return attempt, self._try(request, attempt)
            except ConcurrentUpdateError as exc:
                self._on_locked(request, exc, wait)

    def _try(self, request: OperationRequest, attempt: Attempt) -> Done:
        """One attempt, in the worker thread, with a note naming this run as the lock's holder."""
        try:
            with holder_note(
                request.context.backend, request.project, request.stack, request.message, request.task
            ) as note:
                self._note = note
                try:
                    done: Done = self._in_worker(
                        functools.partial(self._attempt, request, attempt.observer, attempt.program)
                    )
                finally:
                    self._note = None
        except OperationInterruptedError as exc:
            raise interrupted(request, self._stop_outcome or "graceful", exc) from None
        return done

    def _on_locked(self, request: OperationRequest, exc: ConcurrentUpdateError, wait: LockWait) -> None:
        """The stack was locked: cancel a stale lock once (``cancel_stale_lock``), else wait and back off.
        A stale lock without ``cancel_stale_lock`` fails at once: nothing will release it. A lock is taken for
        stale only when it refuses a second attempt made at once (a holder that has just finished is gone too).

        :raises ConcurrentUpdateError: ``lock_wait`` is used up, the lock is stale, or the engine was stopped.
        :raises OperationInterruptedError: the engine was stopped while waiting.
        """
        if self._stop_requested.is_set():
            raise exc
        context = request.context
        holder = with_airflow_holder(parse_lock_holder(str(exc)), context.backend, request.project, request.stack)
        holder = judge_by_airflow(holder, request.task, request.task_states)
        exc.holder = holder  # type: ignore[attr-defined]
        if holder.stale and not wait.stale_again((holder.host, holder.pid, holder.since)):
            return  # at once: a holder that has just finished looks stale too; a dead one's lock is still there
        if holder.stale and request.options.cancel_stale_lock and not wait.cancelled_stale:
            wait.cancelled_stale = True
            self._cancel_stale(request, holder)
            return
        if holder.stale:
            raise lock_error(request, exc, holder, wait.attempts, wait.waited) from None
        self._back_off(request, exc, holder, wait)

    def _cancel_stale(self, request: OperationRequest, holder: LockHolder) -> None:
        """Cancel the lock a gone holder left (``pulumi cancel``), in the worker thread, and forget its note."""
        self.on_warning(
            f"pulumi: stack {request.stack!r} is locked by {holder.describe()}; "
            "cancel_stale_lock is on: cancelling that lock (`pulumi cancel`) and retrying; resources it was "
            "creating may be pending: see the next warning, and refresh with clear_pending_creates=True"
        )
        self._in_worker(lambda: self._cancel(request))
        forget_holder(holder, request.context.backend, request.project, request.stack)

    def _back_off(self, request: OperationRequest, exc: ConcurrentUpdateError, holder: LockHolder,
                  wait: LockWait) -> None:
        """Wait before the next attempt, or fail when ``lock_wait`` is used up."""
        pause = wait.next_wait()
        if pause is None:
            raise lock_error(request, exc, holder, wait.attempts, wait.waited) from None
        self.on_warning(
            f"pulumi: stack {request.stack!r} is locked by {holder.describe()}; retrying in "
            f"{pause:.1f}s ({wait.waited:.0f}s of lock_wait={request.options.lock_wait:.0f}s used)"
        )
        if self._stop_requested.wait(pause):
            raise OperationInterruptedError(
                f"pulumi {request.operation} on stack {request.stack!r} was stopped while waiting for "
                f"the stack lock held by {holder.describe()}; nothing was changed",
                stack=request.stack,
                operation=request.operation,
            ) from None

    def _emit(self, line: str) -> None:
        if self._muted:  # an engine the task gave up on must not write into a finished task's log
            return
        # The engine's diagnostics at their own level, so Airflow's log-level filter finds them.
        level = line_level(line)
        sink = self.on_error if level == "error" else self.on_warning if level == "warning" else self.on_output
        sink(line)

    def _give_up(self) -> bool:
        """The engine did not stop. Tell a still-running program to stop (an in-process engine then ends
        the update, writes state and releases the lock); if the engine still runs, release its threads so
        the process can exit, and go on without it.

        :return: whether the engine ended after all.
        """
        program = self._program
        running = program is not None and program.release()
        if running and self._worker_done.wait(PROGRAM_STOP_WAIT):
            self._stop_outcome = "graceful"
            self.on_warning("pulumi: the program was still running; it was told to stop, and the engine then ended")
            return True
        self._muted = True
        # The engine's own pool threads (an in-process engine, its event stream) wait for it forever.
        detach_pool_threads(pool_threads() - self._threads_before)
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

    def _attempt(self, request: OperationRequest, observer: Observer, program: InlineProgram) -> Done:
        work_dir = self._work_dir = tempfile.mkdtemp(prefix="airflow-pulumi-", dir=self.work_root)
        try:
            with _translated(request, observer, self._stop_requested.is_set, lambda: program):
                self._program = program
                stack = open_stack(request, program, observer, workspace_options(request, work_dir, self._command))
                return run_operation(stack, request, observer)
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
            # The engine is done; a program still running (it hung, the engine was stopped) can never finish
            # usefully, and would keep the task process alive.
            if self._program is not None and self._program.release() and not self._muted:
                self.on_warning("pulumi: the program was still running when the engine ended; it was told to stop")
            self._program = None

    def _cancel(self, request: OperationRequest) -> None:
        work_dir = tempfile.mkdtemp(prefix="airflow-pulumi-", dir=self.work_root)
        try:
            with _translated(request):
                options = workspace_options(request, work_dir, self._command)
                run_stack(request, lambda: None, Observer(self._emit), options, create=False).cancel()
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)

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
