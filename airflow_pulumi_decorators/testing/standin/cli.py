"""Command dispatch and the ``pulumi-standin`` console entry point.

Start-up is kept light: only the stdlib and the small stand-in modules are
imported here; gRPC and the Pulumi protos load only for deployment commands.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from .args import parse_args
from .constants import EXIT_ERROR
from .context import Invocation
from .journal import append_record, journal_path, redact_argv
from .sink import Sink, StandinError
from .state import iso_now

if TYPE_CHECKING:
    from types import FrameType
    from typing import TextIO

CommandFn = Callable[[Invocation], int]


def _deployment(command: str) -> CommandFn:
    def run(inv: Invocation) -> int:
        from .engine import run_operation

        return run_operation(inv, command)

    return run


def _table() -> dict[tuple[str, ...], CommandFn]:
    from . import stackcmds as s

    return {
        ("version",): s.cmd_version,
        ("whoami",): s.cmd_whoami,
        ("stack",): s.cmd_stack,
        ("stack", "init"): s.cmd_stack_init,
        ("stack", "select"): s.cmd_stack_select,
        ("stack", "ls"): s.cmd_stack_ls,
        ("stack", "rm"): s.cmd_stack_rm,
        ("stack", "output"): s.cmd_stack_output,
        ("stack", "history"): s.cmd_stack_history,
        ("stack", "export"): s.cmd_stack_export,
        ("stack", "import"): s.cmd_stack_import,
        ("stack", "rename"): s.cmd_stack_rename,
        ("config",): s.cmd_config_getall,
        ("config", "get"): s.cmd_config_get,
        ("config", "set"): s.cmd_config_set,
        ("config", "set-all"): s.cmd_config_set_all,
        ("config", "rm"): s.cmd_config_rm,
        ("config", "rm-all"): s.cmd_config_rm,
        ("cancel",): s.cmd_cancel,
        ("plugin", "ls"): s.cmd_plugin_ls,
        ("plugin", "install"): s.cmd_plugin_install,
        ("up",): _deployment("up"),
        ("update",): _deployment("up"),
        ("preview",): _deployment("preview"),
        ("refresh",): _deployment("refresh"),
        ("destroy",): _deployment("destroy"),
    }


#: The ``--color`` values the CLI accepts (``cmdutil.ColorOption``).
_COLORS = ("auto", "always", "never", "raw")


def run_cli(
    argv: list[str],
    env: Mapping[str, str],
    cwd: str,
    sink: Sink,
    form: str,
    cancel: threading.Event | None = None,
) -> int:
    """Run one ``pulumi`` invocation against the stand-in engine.

    :param argv: Arguments without the program name.
    :param env: Environment to use (``os.environ`` is never read directly).
    :param cwd: Working directory to use (the process cwd is never changed).
    :param sink: Receives stdout/stderr lines as they are produced.
    :param form: ``"in-process"`` or ``"subprocess"`` (recorded in the journal).
    :param cancel: Event that asks a running operation to stop.
    :returns: Exit code (0 on success, 255 on errors like Pulumi).
    """
    started = time.time()
    code = EXIT_ERROR
    try:
        args = parse_args(list(argv))
        target_cwd = args.value("cwd", "C")
        if target_cwd:
            cwd = os.path.join(cwd, target_cwd)
        inv = Invocation(args=args, env=env, cwd=cwd, sink=sink, form=form)
        if cancel is not None:
            inv.cancel = cancel
        if not args.command:
            raise StandinError('a command is required, e.g. "pulumi up" (stand-in engine)')
        color = args.value("color")
        if color is not None and color not in _COLORS:  # checked by the CLI before any command runs
            raise StandinError(f"unsupported color option: '{color}'.  Supported values are: {', '.join(_COLORS)}")
        if args.has("help", "h"):
            sink.out(f"Usage: pulumi {' '.join(args.command)} [flags]  (pulumi-standin)")
            code = 0
        else:
            handler = _table().get(tuple(args.command))
            if handler is None:
                raise StandinError(
                    f'command "pulumi {" ".join(args.command)}" is not supported by the stand-in engine'
                )
            code = handler(inv)
    except StandinError as exc:
        sink.err(f"error: {exc.message}")
        code = exc.code
    except KeyboardInterrupt:
        sink.err("error: update canceled")
        code = EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - report like a CLI, never raise to the caller
        sink.err(f"error: stand-in engine internal error: {exc!r}")
        for line in traceback.format_exc().rstrip().splitlines():
            sink.err(line)
        code = EXIT_ERROR
    finally:
        _journal(argv, env, cwd, form, code, started)
    return code


def _journal(argv: list[str], env: Mapping[str, str], cwd: str, form: str, code: int, started: float) -> None:
    path = journal_path(env)
    if not path:
        return
    record = {
        "ts": iso_now(),
        "pid": os.getpid(),
        "form": form,
        "argv": redact_argv(list(argv)),
        "env_names": sorted(env.keys()),
        "cwd": cwd,
        "code": code,
        "duration_s": round(time.time() - started, 4),
    }
    try:
        append_record(path, record)
    except OSError:
        pass  # a journal must never break the command


def _print_line(stream: TextIO) -> Callable[[str], None]:
    def write(line: str) -> None:
        try:
            stream.write(line + "\n")
            stream.flush()
        except (BrokenPipeError, ValueError):
            pass

    return write


def main(argv: list[str] | None = None) -> None:
    """Console entry point: ``pulumi-standin ...`` (or a ``pulumi`` symlink to it).

    SIGINT/SIGTERM ask the running operation to finish the current resource,
    write state, release the lock and exit 255; a second signal stops at once
    (still releasing the lock).

    :param argv: Arguments (defaults to ``sys.argv[1:]``).
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    sink = Sink(_print_line(sys.stdout), _print_line(sys.stderr))
    cancel = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        sink.err(
            "^C received; cancelling. If you would like to terminate immediately, "
            "press ^C again."
        )

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, on_signal)
        except (ValueError, OSError):
            pass
    code = run_cli(arguments, dict(os.environ), os.getcwd(), sink, "subprocess", cancel)
    sys.exit(code)


if __name__ == "__main__":
    main()
