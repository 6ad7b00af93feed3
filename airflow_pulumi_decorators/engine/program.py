"""The user's function as Pulumi's inline program: the outputs it returns, checked and exported; the error
it raised; and letting the task process end when a program hangs in a thread of Pulumi's pool."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from airflow_pulumi_decorators.engine.compat import is_input_or_output_type
from airflow_pulumi_decorators.errors import OutputError
from airflow_pulumi_decorators.outputs import check_output_names, plain_output

#: Seconds to wait, after telling a hung program to stop, for an engine that was waiting for it to end.
PROGRAM_STOP_WAIT = 5.0


class ProgramStopped(BaseException):
    """Raised inside a program the task gave up on, at its next Python instruction (not an ``Exception``,
    so a program's ``except Exception`` retry loop does not swallow it)."""


class InlineProgram:
    """The user's function as Pulumi's inline program: checks the outputs it returns, remembers their keys,
    the error it raised and where it runs.

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
        #: The keys of the mapping the program returned, so outputs left without a value can be named.
        self.declared: tuple[str, ...] = ()
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
            self.declared = tuple(str(key) for key in result)
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

        The program gets :class:`ProgramStopped` at its next Python instruction (a call blocked in C,
        such as a long ``time.sleep``, sees it only when it returns), and its pool thread, a daemon
        thread, is taken off the list ``concurrent.futures`` joins at interpreter exit.

        :return: whether the program was still running.
        """
        thread, loop = self._thread, self._loop
        # The loop runs from the program's start until its last apply; then the thread is the pool's again.
        if thread is None or thread.ident is None or loop is None or not loop.is_running():
            return False
        import ctypes

        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(ProgramStopped))
        detach_pool_threads({thread})
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

    return isinstance(value, (pulumi.Resource, pulumi.Asset, pulumi.Archive)) or is_input_or_output_type(value)


def pool_threads() -> set[threading.Thread]:
    """The ``concurrent.futures`` pool threads the interpreter will join at exit (gRPC servers use them)."""
    from concurrent.futures import thread as pool

    return set(getattr(pool, "_threads_queues", {}).keys())


def detach_pool_threads(threads: set[threading.Thread]) -> None:
    """Let the interpreter exit without joining these pool threads (they are daemon threads: they just
    end with the process). Used only for threads of an engine or program the task gave up on."""
    from concurrent.futures import thread as pool

    queues = getattr(pool, "_threads_queues", None)
    if queues is None:
        return
    for thread in threads:
        if thread.daemon:
            queues.pop(thread, None)
