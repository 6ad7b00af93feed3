"""Pulumi's errors (its exceptions and the CLI's text) as ours, with what happened and the fix.

Pure functions of the request and the error: no I/O, no engine, so each translation is unit-tested on
its own. :func:`translate` is the one boundary where a Pulumi exception becomes one of
:mod:`airflow_pulumi_decorators.errors` (Pulumi's ``create_command_error`` idea).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_pulumi_decorators.cli import INSTALL_HINT
from airflow_pulumi_decorators.engine.request import NO_CHANGE_OPS, OperationRequest
from airflow_pulumi_decorators.errors import (
    BackendAccessError,
    ConcurrentUpdateError,
    ConfigurationError,
    DriftDetectedError,
    OperationInterruptedError,
    OutputError,
    PluginInstallError,
    PolicyViolationError,
    ProgramError,
    PulumiCliNotFoundError,
    PulumiEngineError,
    StackNotFoundError,
    StateCorruptError,
    WrongPassphraseError,
)
from airflow_pulumi_decorators.names import DIY_ORGANIZATION

if TYPE_CHECKING:
    from airflow_pulumi_decorators.engine.events import Observer
    from airflow_pulumi_decorators.locks import LockHolder


def translate(
    request: OperationRequest,
    exc: BaseException,
    *,
    observer: Observer | None = None,
    stopped: bool = False,
    raised: BaseException | None = None,
) -> BaseException | None:
    """Our error for what Pulumi raised, or ``None`` when ``exc`` is not Pulumi's (it then propagates as is).

    :param request: the run it happened in (stack, operation, backend, plugin folder, passphrase source).
    :param exc: what the Automation API raised.
    :param observer: what the event stream said (policy violations, steps, change counts), if it ran.
    :param stopped: the engine had been asked to stop (a failed CLI call is then the interruption).
    :param raised: what the inline program raised, if it ran and raised.
    """
    from pulumi.automation import errors as perr

    where = {"stack": request.stack, "operation": request.operation}
    if isinstance(exc, perr.CommandError) and stopped:
        return OperationInterruptedError(
            f"pulumi {request.operation} on stack {request.stack!r} was interrupted:\n{tail(exc, 5)}", **where
        )
    if isinstance(exc, perr.InlineSourceRuntimeError):
        if isinstance(raised, OutputError):  # our own check of the outputs, already clear and typed
            return raised
        return program_error(request, exc, raised)
    if isinstance(exc, perr.ConcurrentUpdateError):
        return ConcurrentUpdateError(f"stack {request.stack!r} is locked by another update:\n{tail(exc)}", **where)
    if isinstance(exc, perr.StackNotFoundError):
        return StackNotFoundError(
            f"stack {request.stack!r} does not exist in backend {request.context.backend_text}, so there is "
            f"nothing to {request.operation}: nothing was ever deployed to it for this environment, or it was "
            "removed. If it should exist, check the stack name (the environment's stack, or the task's 'stack') "
            "and the backend (the pulumi connection, [pulumi] backend_url or PULUMI_BACKEND_URL); a destroy of a "
            f"stack that was never deployed has nothing to do, so drop the task or run it after an up.\n{tail(exc)}",
            **where,
        )
    if isinstance(exc, perr.CommandError):
        # The CLI reports a refused snapshot as "a bug" with a Go stack trace after the reason: read it whole.
        integrity = integrity_failure(request, _full_text(exc))
        if integrity is not None:
            return integrity
        return command_error(request, tail(exc), observer)
    if isinstance(exc, FileNotFoundError):
        return PulumiCliNotFoundError(f"the Pulumi CLI could not be started ({exc}); {INSTALL_HINT}")
    return None


def command_error(request: OperationRequest, text: str, observer: Observer | None = None) -> BaseException:
    """Our error for a failed CLI call, read from its output ``text`` (the tail of stderr, else stdout)."""
    where = {"stack": request.stack, "operation": request.operation}
    mandatory = observer.mandatory_violations if observer is not None else []
    if mandatory:
        return policy_error(request, mandatory)
    if "no changes were expected" in text:  # --expect-no-changes (ExitNoChanges)
        steps = observer.steps if observer is not None else []
        changes = dict(observer.summary_changes or {}) if observer is not None else {}
        drift = drift_error(request, changes or {"update": max(len(steps), 1)}, steps)
        if drift is not None:
            return drift
    plugin = missing_plugin(request, text)
    if plugin is not None:
        return plugin
    if "incorrect passphrase" in text:
        source = request.context.passphrase_source
        return WrongPassphraseError(
            f"stack {request.stack!r} cannot decrypt its secrets: the passphrase from {source} is not the "
            "one the stack was created with. Set that passphrase to the stack's (or point "
            "PULUMI_CONFIG_PASSPHRASE_FILE at a file holding it); a stack's passphrase cannot be changed "
            f"this way, only with `pulumi stack change-secrets-provider`.\n{text}",
            source=source,
        )
    corrupt = corrupt_state(request, text)
    if corrupt is not None:
        return corrupt
    unreachable = backend_unreachable(request, text)
    if unreachable is not None:
        return unreachable
    if "passphrase must be set" in text or "PULUMI_CONFIG_PASSPHRASE" in text:
        return ConfigurationError(
            f"stack {request.stack!r} encrypts its secrets with a passphrase, and none is set: set "
            "PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) on the worker, or use another "
            f"secrets provider.\n{text}"
        )
    return PulumiEngineError(f"pulumi {request.operation} failed on stack {request.stack!r}:\n{text}", **where)


def policy_error(request: OperationRequest, mandatory: Sequence[Mapping[str, str]]) -> PolicyViolationError:
    """The operation was refused by the mandatory violations of a policy pack."""
    listed = "\n".join(
        f"  [{v['level']}] {v['policy_pack']}/{v['policy']}: {v['message']}"
        + (f" ({v['urn'].rsplit('::', 1)[-1]})" if v["urn"] else "")
        for v in mandatory
    )
    return PolicyViolationError(
        f"pulumi {request.operation} on stack {request.stack!r} was refused by policy "
        f"({len(mandatory)} mandatory violation(s)):\n{listed}",
        violations=[dict(v) for v in mandatory],
        stack=request.stack,
        operation=request.operation,
    )


def drift_error(
    request: OperationRequest, changes: Mapping[str, int], steps: list[dict[str, Any]]
) -> DriftDetectedError | None:
    """The drift an ``expect_no_changes`` operation found, or ``None`` when it changes nothing."""
    changed = {op: n for op, n in changes.items() if op not in NO_CHANGE_OPS and n}
    if not changed:
        return None
    listed = "\n".join(f"  {s['op']} {s['type']} {s['name']}" for s in steps) or "  (no per-resource detail)"
    return DriftDetectedError(
        f"stack {request.stack!r} has drifted: {request.operation} expected no changes but found "
        f"{', '.join(f'{op}={n}' for op, n in sorted(changed.items()))}:\n{listed}",
        stack=request.stack,
        operation=request.operation,
        changes=dict(changes),
        steps=steps,
    )


_MISSING_PLUGIN = re.compile(
    r"(?:Could not automatically download and install|no) (\w+) plugin 'pulumi-\w+-([^']+)' "
    r"(?:at version|found in the workspace at version) (v?[\w.+-]+)"
)


def missing_plugin(request: OperationRequest, text: str) -> PluginInstallError | None:
    """A provider plugin the run needs is neither installed nor downloadable."""
    missing = _MISSING_PLUGIN.search(text)
    if not missing:
        return None
    kind, name, version = missing.groups()
    cache = request.context.plugins_dir
    return PluginInstallError(
        f"pulumi {request.operation} on stack {request.stack!r} needs the {kind} plugin {name} "
        f"{version}, which is not installed in {cache} and could not be downloaded. Pre-install it "
        f"in the worker image: `PULUMI_HOME=<a folder whose plugins/ is {cache}> pulumi plugin install "
        f"{kind} {name} {version}` (add --file or --server for a plugin not on Pulumi's registry), "
        f"put pulumi-{kind}-{name} on the worker's PATH, or list it in [pulumi] plugins "
        f"(docs/worker-setup.md).\n{text}"
    )


def _diy_stack(request: OperationRequest) -> str:
    """The stack's fully qualified name on a file or bucket backend: ``organization/<project>/<stack>``."""
    return f"{DIY_ORGANIZATION}/{request.project}/{request.stack.rsplit('/', 1)[-1]}"


def _checkpoint_path(request: OperationRequest) -> str | None:
    """The stack's checkpoint file on a ``file://`` backend, ``None`` on any other."""
    backend = request.context.backend
    root = backend.local_path if backend is not None else None
    if root is None:
        return None
    return os.path.join(root, ".pulumi", "stacks", request.project, f"{request.stack.rsplit('/', 1)[-1]}.json")


#: How the CLI (and the stand-in, in its words) says a stack's checkpoint is not valid JSON.
_CORRUPT_MARKER = "failed to load checkpoint"


def corrupt_state(request: OperationRequest, text: str) -> StateCorruptError | None:
    """The stack's checkpoint is not valid JSON: where it is and how to restore it."""
    if _CORRUPT_MARKER not in text:
        return None
    path = _checkpoint_path(request)
    if path is not None:
        project, name = request.project, request.stack.rsplit("/", 1)[-1]
        state = os.path.dirname(os.path.dirname(os.path.dirname(path)))
        where = (
            f"its checkpoint file {path} is not valid JSON (truncated or overwritten). Restore it: copy the newest "
            f"good copy from {os.path.join(state, 'backups', project, name)}/ (the CLI keeps one per update) or from "
            "your backups over it"
        )
    else:
        where = (
            f"its checkpoint in backend {request.context.backend_text} is not valid JSON. Restore it from the "
            "backend's backups"
        )
    return StateCorruptError(
        f"the state of stack {request.stack!r} cannot be read: {where}, then run operation='refresh' to "
        f"reconcile it with the cloud.\n{tail_text(text, 5)}",
        stack=request.stack,
        operation=request.operation,
        path=path,
    )


#: How the CLI (and the stand-in) says it refuses a checkpoint that fails its integrity check; the real CLI adds
#: "This is a bug!", a Go stack trace and, on an ``Error:`` line, the reason.
_INTEGRITY_MARKERS = ("snapshot integrity failure", "snapshot integrity error")
_INTEGRITY_REASON = re.compile(r"snapshot integrity failure; refusing to use it: ([^\n]*)")


def _full_text(exc: BaseException) -> str:
    return "\n".join(t for t in (getattr(exc, "stderr", "") or "", getattr(exc, "stdout", "") or "", str(exc)) if t)


def integrity_failure(request: OperationRequest, text: str) -> StateCorruptError | None:
    """The CLI refused the stack's checkpoint (valid JSON, but not a snapshot it trusts): the reason, the file
    and the fix, instead of the CLI's bug report and Go stack trace."""
    if not any(marker in text for marker in _INTEGRITY_MARKERS):
        return None
    found = _INTEGRITY_REASON.search(text)
    reason = found.group(1).strip() if found else "the snapshot is not well formed"
    fqn = _diy_stack(request)
    path = _checkpoint_path(request)
    where = f"its checkpoint file {path}" if path else f"its checkpoint in backend {request.context.backend_text}"
    if "magic cookie" in reason:
        cause = (
            "its manifest's magic cookie is not the SHA-256 of its version, so the file was not written the way the "
            "Pulumi CLI writes it: by a pulumi-standin older than this release (which wrote no cookie), by another "
            "tool, or edited by hand. Fix: run the task once on this release's stand-in (it rewrites the state in "
            "the CLI's format), or set manifest.magic in the file to the hex SHA-256 of manifest.version, or restore "
            "the newest copy from the backend's .pulumi/backups/ folder"
        )
    else:
        cause = (
            "its resources do not form a valid snapshot (an order or a reference the CLI refuses). Fix: run "
            f"`pulumi state repair --stack {fqn}` with PULUMI_BACKEND_URL set to the backend (it reorders and drops "
            "dangling references), or restore the newest copy from the backend's .pulumi/backups/ folder"
        )
    return StateCorruptError(
        f"the state of stack {request.stack!r} cannot be used: {where} fails the Pulumi CLI's integrity check "
        f"({reason}): {cause}; then run operation='refresh' to reconcile it with the cloud.",
        stack=request.stack,
        operation=request.operation,
        path=path,
    )


#: How the CLI (and the stand-in, in its words) says the state folder cannot be opened or written: the folder
#: itself, or a write into it (Go's error texts).
_BACKEND_MARKERS = ("unable to open state directory", "permission denied", "read-only file system")


def backend_unreachable(request: OperationRequest, text: str) -> BackendAccessError | None:
    """The state folder cannot be opened or written by the worker."""
    if not any(marker in text for marker in _BACKEND_MARKERS):
        return None
    backend = request.context.backend_text
    return BackendAccessError(
        f"the state backend {backend} cannot be opened or written by the worker (a missing or read-only folder, "
        "or a path under a file). Point the backend at a folder the worker's user can write (the pulumi "
        "connection's host, [pulumi] backend_url or PULUMI_BACKEND_URL), or fix the folder's permissions."
        f"\n{tail_text(text, 5)}",
        backend=backend,
    )


def cancel_command(request: OperationRequest) -> str:
    """The command that cancels the stack's lock by hand: an inline program has no ``Pulumi.yaml``, so the CLI
    needs the backend and the fully qualified stack (``organization/<project>/<stack>`` on file and bucket
    backends)."""
    backend = request.context.backend
    stack = request.stack
    if backend is None or backend.kind != "cloud":
        stack = _diy_stack(request)
    prefix = f"PULUMI_BACKEND_URL={backend.url} " if backend is not None else ""
    return f"{prefix}pulumi cancel --yes --stack {stack}"


def lock_error(
    request: OperationRequest, exc: BaseException, holder: LockHolder, attempts: int, waited: float
) -> ConcurrentUpdateError:
    """The stack stayed locked for all of ``lock_wait`` (or its holder is gone): who holds it, and what to do."""
    advice = (
        "Recover: the holder is gone, so nothing will release the lock: check the stack, then set "
        f"cancel_stale_lock=True on this task (it cancels such a lock and goes on) or run `{cancel_command(request)}`"
        "; then refresh (with clear_pending_creates=True) if resources were being created."
        if holder.stale
        else "Wait for it, or let this task wait longer with lock_wait=…; serialise runs on this stack "
        "with an Airflow pool of one slot (see docs/operations.md)."
    )
    waited_text = f" after {attempts} attempts over {waited:.0f}s" if attempts > 1 else ""
    error = ConcurrentUpdateError(
        f"stack {request.stack!r} is locked by another update{waited_text}: held by {holder.describe()}. "
        f"{advice}\n{tail(exc)}",
        stack=request.stack,
        operation=request.operation,
    )
    error.holder = holder  # type: ignore[attr-defined]
    return error


def interrupted(request: OperationRequest, outcome: str, exc: BaseException) -> OperationInterruptedError:
    """The operation was stopped (task killed or timed out); what state that left, by how it ended."""
    if outcome == "graceful":
        what = ("the engine stopped gracefully: it wrote its state and released the stack lock, so the next run "
                "continues from there")
    elif outcome == "abandoned":
        what = "the in-process engine did not stop in time; the task gave up on it"
    else:
        what = (f"the engine did not stop within kill_grace_period={request.options.kill_grace_period:g}s and was "
                f"{outcome}; the stack may stay locked and have pending operations: the next run says so; recover "
                f"with cancel_stale_lock=True (or `{cancel_command(request)}`) and operation='refresh'")
    return OperationInterruptedError(
        f"pulumi {request.operation} on stack {request.stack!r} was interrupted (task killed or timed out); "
        f"{what}.\n{exc}",
        stack=request.stack,
        operation=request.operation,
        outcome=outcome,
    )


def tail_text(text: str, lines: int) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def tail(exc: BaseException, lines: int = 20) -> str:
    """The last ``lines`` of what a failed CLI call printed (stderr, else stdout, else the exception)."""
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


def program_error(request: OperationRequest, exc: BaseException, raised: BaseException | None) -> ProgramError:
    """A :class:`ProgramError` that says what the program raised (type and message) and, for a failure in
    an ``apply`` feeding a resource, which resource; the full traceback stays in the task log."""
    text = str(exc)  # Pulumi's CommandError: the CLI's exit code, stdout and stderr
    if raised is not None:
        kind, message = type(raised).__name__, str(raised)
    else:
        kind, message = raised_in(text)
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


def raised_in(text: str) -> tuple[str, str]:
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
