"""The operation vocabulary: which operations a stack task runs, their options, the protected-environment
rule, and the summary every task pushes (its XCom key and fields).

The operator, the engine, the links and the approval gates all speak it. Plain Python (no Pulumi, no
``airflow.sdk``, nothing of the engine), so parsing a DAG file loads it and nothing heavier.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypedDict, get_args

from airflow_pulumi_decorators.errors import ConfigurationError, ProtectedStackError

if TYPE_CHECKING:
    from airflow_pulumi_decorators.engine import OperationResult
    from airflow_pulumi_decorators.environments import Environment

Operation = Literal["up", "preview", "refresh", "destroy"]
#: The operations a stack task runs, ``up`` (the default) first.
OPERATIONS: tuple[str, ...] = get_args(Operation)

#: The XCom key of the summary every stack task pushes (:class:`Summary`).
SUMMARY_KEY = "pulumi_summary"


def check_operation(operation: object) -> str:
    """Refuse an operation name that is not one of :data:`OPERATIONS`.

    :param operation: the task's ``operation``.
    :raises ConfigurationError: naming the operations there are.
    """
    if not isinstance(operation, str) or operation not in OPERATIONS:
        raise ConfigurationError(f"'operation'={operation!r} is not one of {', '.join(OPERATIONS)}")
    return operation


def _seconds(name: str, value: float | datetime.timedelta) -> float:
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigurationError(f"{name!r}={value!r} must be a number of seconds >= 0 or a timedelta")
    return float(value)


def _paths(name: str, value: Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not all(isinstance(v, str) and v for v in value):
        raise ConfigurationError(f"{name!r} must be a list of paths, e.g. {name}=['policies/gcp'], got {value!r}")
    return tuple(value)


_FLAGS = ("expect_no_changes", "refresh", "preview_only", "clear_pending_creates", "remove_stack", "cancel_stale_lock")


@dataclass(frozen=True)
class OperationOptions:
    """How an operation runs, beyond which stack and program; checked and normalised when created.

    Which options apply to which operation is checked by :func:`operation_options`.

    :param expect_no_changes: fail with :class:`DriftDetectedError` if the operation finds changes.
    :param refresh: refresh state from the cloud first (``up``, ``preview``, ``destroy``).
    :param preview_only: ``refresh`` only: report drift, write nothing.
    :param clear_pending_creates: ``refresh`` only: drop pending creates a hard kill left in the state.
    :param remove_stack: ``destroy`` only: remove the stack (its state, history and config) afterwards.
    :param policy_packs: local policy pack folders run with ``up``/``preview``.
    :param policy_pack_configs: JSON config files of those policy packs (same order).
    :param lock_wait: seconds (or a ``timedelta``) to keep retrying while another update holds the stack
        (0: fail at once).
    :param lock_retry_delay: first back-off delay in seconds; doubles up to 60 s.
    :param cancel_stale_lock: when the lock's holder process is gone from this host (a hard kill),
        cancel the lock (``pulumi cancel``) and go on.
    :param kill_grace_period: seconds (or a ``timedelta``) an interrupted engine gets to write state and
        release its lock before it is terminated (then killed 5 s later).
    :raises ConfigurationError: a value of the wrong kind, naming the option.
    """

    expect_no_changes: bool = False
    refresh: bool = False
    preview_only: bool = False
    clear_pending_creates: bool = False
    remove_stack: bool = False
    policy_packs: tuple[str, ...] = ()
    policy_pack_configs: tuple[str, ...] = ()
    lock_wait: float = 0.0
    lock_retry_delay: float = 2.0
    cancel_stale_lock: bool = False
    kill_grace_period: float = 60.0

    def __post_init__(self) -> None:
        put = object.__setattr__
        for flag in _FLAGS:
            put(self, flag, bool(getattr(self, flag)))
        packs = _paths("policy_packs", self.policy_packs)
        configs = _paths("policy_pack_configs", self.policy_pack_configs)
        if configs and len(configs) != len(packs):
            raise ConfigurationError(
                f"'policy_pack_configs' has {len(configs)} entries for {len(packs)} 'policy_packs'; give one config "
                "file per pack, in the same order"
            )
        put(self, "policy_packs", packs)
        put(self, "policy_pack_configs", configs)
        put(self, "lock_wait", _seconds("lock_wait", self.lock_wait))
        put(self, "lock_retry_delay", _seconds("lock_retry_delay", self.lock_retry_delay))
        put(self, "kill_grace_period", _seconds("kill_grace_period", self.kill_grace_period))


#: Options that apply to some operations only, and to which.
_APPLIES_TO = (
    ("preview_only", ("refresh",)),
    ("clear_pending_creates", ("refresh",)),
    ("remove_stack", ("destroy",)),
    ("policy_packs", ("up", "preview")),
    ("policy_pack_configs", ("up", "preview")),
    ("expect_no_changes", ("up", "preview", "refresh")),
    ("refresh", ("up", "preview", "destroy")),
)


#: The options a task also takes as keywords of its own (``@pulumi_stack(lock_wait=600)``, ``.override(...)``);
#: ``lock_retry_delay`` is only an :class:`OperationOptions` field.
OPTION_KEYWORDS: tuple[str, ...] = (*_FLAGS, "policy_packs", "policy_pack_configs", "lock_wait", "kill_grace_period")


def pop_option_keywords(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Take the :data:`OPTION_KEYWORDS` out of a task's keyword arguments.

    :param kwargs: the task's keyword arguments; the option keywords are removed from it.
    :returns: the option keywords given, by name.
    """
    return {name: kwargs.pop(name) for name in OPTION_KEYWORDS if name in kwargs}


def refine(options: Any, keywords: Mapping[str, Any]) -> Any:
    """``options`` with the fields the option keywords name replaced (checked as any :class:`OperationOptions`).

    :param options: the options to refine; anything that is not an :class:`OperationOptions` is returned as
        it is, for :func:`operation_options` to refuse.
    :param keywords: option keywords, by name.
    """
    if not keywords or not isinstance(options, OperationOptions):
        return options
    return dataclasses.replace(options, **keywords)


def task_options(operation: str, options: Any, keywords: Mapping[str, Any],
                 default_args: Mapping[str, Any] | None) -> OperationOptions:
    """A task's options from how it gave them, checked against its operation (see :func:`operation_options`).

    ``default_args`` are defaults, as for any operator argument: ``options`` there is refined by the task's
    option keywords; option keywords there fill in for a task that gives no ``options`` (the task's own
    keywords win).

    :param operation: the task's ``operation``.
    :param options: the task's ``options`` (possibly from ``default_args``), or ``None``.
    :param keywords: the task's option keywords (:func:`pop_option_keywords`).
    :param default_args: the task's merged ``default_args``.
    """
    default_args = default_args or {}
    if options is not None and options is default_args.get("options"):
        return operation_options(operation, refine(options, keywords))
    if options is None:
        keywords = {**{k: v for k, v in default_args.items() if k in OPTION_KEYWORDS}, **keywords}
    return operation_options(operation, options, **keywords)


def grouped_options(options: Any, keywords: Mapping[str, Any]) -> OperationOptions:
    """A task's options as one :class:`OperationOptions`, whichever way it gave them.

    :param options: the task's ``options``, or ``None``.
    :param keywords: the task's options given as keywords of their own (``lock_wait``, ``refresh`` …).
    :raises ConfigurationError: ``options`` that is not an :class:`OperationOptions`, or ``options`` and
        option keywords together, naming them.
    """
    if options is None:
        return OperationOptions(**keywords)
    if not isinstance(options, OperationOptions):
        raise ConfigurationError(
            f"'options' must be an OperationOptions, e.g. options=OperationOptions(lock_wait=600), "
            f"got {type(options).__name__}"
        )
    if keywords:
        names = ", ".join(repr(name) for name in keywords)
        raise ConfigurationError(
            f"both 'options' and the option keyword{'s' if len(keywords) > 1 else ''} {names} were given; give "
            f"the options in one place: options=OperationOptions({', '.join(f'{name}=...' for name in keywords)}, "
            "...), or keywords only"
        )
    return options


def operation_options(operation: str, options: OperationOptions | None = None, /, **keywords: Any) -> OperationOptions:
    """Check a task's operation and its options when the DAG is parsed.

    :param operation: the task's ``operation``.
    :param options: the task's ``options``, if it gave them grouped.
    :param keywords: the task's options given as keywords of their own (``lock_wait``, ``refresh`` …).
    :raises ConfigurationError: an unknown operation, options given wrong (:func:`grouped_options`), or an
        option that does not apply to the operation, naming both.
    """
    check_operation(operation)
    options = grouped_options(options, keywords)
    for flag, allowed in _APPLIES_TO:
        if getattr(options, flag) and operation not in allowed:
            raise ConfigurationError(
                f"{flag!r} applies to operation={' or '.join(repr(a) for a in allowed)}, not {operation!r}; "
                f"drop it or change 'operation'"
            )
    return options


def check_protected(name: str, env: Environment, options: OperationOptions, *, allow: bool, operation: str,
                    task_id: str = "", function: str = "") -> None:
    """Refuse ``destroy`` (and removing the stack) on a protected environment unless the task allows it.

    :param name: the environment's name.
    :param env: the environment.
    :param options: the task's options.
    :param allow: the task's ``allow_destroy_protected``.
    :param operation: the task's operation (``destroy`` is the one refused).
    :param task_id: the task, named in the message.
    :param function: the ``@pulumi_stack`` function's name, for the exact way to allow it.
    :raises ProtectedStackError: naming the stack and how to allow it on this task.
    """
    if not env.protected or operation != "destroy" or allow:
        return
    what = "destroy and remove" if options.remove_stack else "destroy"
    raise ProtectedStackError(
        f"refusing to {what} stack {env.stack!r}: environment {name!r} is protected "
        f"(Environment(protected=True)). If this is really meant, allow it on task {task_id!r}: "
        f"{_how_to_allow(task_id, function)}.",
        stack=env.stack,
        operation="destroy",
    )


def _how_to_allow(task_id: str, function: str) -> str:
    fn = function or "my_stack"
    method = "ephemeral" if task_id.endswith("_teardown") else "destroy"
    return (
        f"{fn}.override(allow_destroy_protected=True).{method}(...) for the {method} task of a @pulumi_stack "
        f"function, @pulumi_stack(..., operation='destroy', allow_destroy_protected=True) for a destroy task "
        "declared directly, or PulumiStackOperator(..., allow_destroy_protected=True)"
    )


class Summary(TypedDict):
    """What an operation did: the ``pulumi_summary`` XCom of every stack task (see docs/operations.md)."""

    operation: str
    project: str
    stack: str
    environment: str
    backend: str
    changes: dict[str, int]
    has_changes: bool
    version: int | None
    duration_s: float
    attempts: int
    stack_removed: bool
    pending_operations: int
    policy_violations: list[dict[str, str]]
    message: str
    url: str | None


def summary(result: OperationResult, *, project: str, environment: str, backend: str, message: str,
            url: str | None) -> Summary:
    """The summary of one operation (no output values in it, so no secrets).

    :param result: what the engine reported.
    :param project: the Pulumi project.
    :param environment: the run's environment name.
    :param backend: the backend URL.
    :param message: the update message.
    :param url: the update in Pulumi Cloud, or ``None``.
    """
    return {
        "operation": result.operation,
        "project": project,
        "stack": result.stack,
        "environment": environment,
        "backend": backend,
        "changes": dict(result.changes),
        "has_changes": result.has_changes,
        "version": result.version,
        "duration_s": round(result.duration_s, 3),
        "attempts": result.attempts,
        "stack_removed": result.stack_removed,
        "pending_operations": len(result.pending_operations),
        "policy_violations": result.policy_violations,
        "message": message,
        "url": url,
    }


def summary_line(summary: Mapping[str, Any]) -> str:
    """The summary as one JSON line, for log search (keys sorted, no secret values in it)."""
    return json.dumps(summary, sort_keys=True, default=str, separators=(",", ":"))


def summary_return(result: OperationResult) -> dict[str, Any]:
    """The return value (XCom) of a ``preview``/``refresh``/``destroy`` task: the planned or made changes."""
    return {
        "changes": dict(result.changes),
        "has_changes": result.has_changes,
        "steps": list(result.steps),
        "stack": result.stack,
        "stack_removed": result.stack_removed,
    }
