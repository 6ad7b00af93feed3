"""The operation vocabulary: which operations a stack task runs, their options, the protected-environment
rule, and the XCom key of the summary every task pushes (its fields: :mod:`airflow_pulumi_decorators.publish`).

The operator, the engine, the links and the approval gates all speak it. Plain Python (no Pulumi, no
``airflow.sdk``, nothing of the engine), so parsing a DAG file loads it and nothing heavier.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from airflow_pulumi_decorators.errors import ConfigurationError, ProtectedStackError

if TYPE_CHECKING:
    from airflow_pulumi_decorators.environments import Environment

Operation = Literal["up", "preview", "refresh", "destroy"]
#: The operations a stack task runs, ``up`` (the default) first.
OPERATIONS: tuple[str, ...] = get_args(Operation)

#: The XCom key of the summary every stack task pushes (:class:`Summary`).
SUMMARY_KEY = "pulumi_summary"
#: The XCom key naming the stack a task works on, pushed when its engine starts (so the Pulumi view shows a
#: running task as the holder of the stack's lock) and completed when it ends (resources, secret output keys).
TARGET_KEY = "pulumi_target"

#: What a stack task pushes for a secret output (``secret_outputs``): the key with ``None``, or a reference.
SecretOutputs = Literal["withhold", "reference"]
#: How a task hands on its secret outputs: ``withhold`` (the key with ``None``) or ``reference``.
SECRET_OUTPUT_MODES: tuple[str, ...] = get_args(SecretOutputs)


def check_secret_outputs(value: object) -> SecretOutputs:
    """Refuse a ``secret_outputs`` that is not one of :data:`SECRET_OUTPUT_MODES`.

    :param value: the task's ``secret_outputs``.
    :raises ConfigurationError: naming the modes there are.
    """
    if not isinstance(value, str) or value not in SECRET_OUTPUT_MODES:
        raise ConfigurationError(
            f"'secret_outputs'={value!r} is not one of {', '.join(map(repr, SECRET_OUTPUT_MODES))}: 'withhold' "
            "(the default) pushes the key with None; 'reference' pushes a reference to the output that a downstream "
            "task resolves from the stack's state (docs/outputs.md, 'Passing a secret downstream')"
        )
    return cast(SecretOutputs, value)


def check_operation(operation: object) -> Operation:
    """Refuse an operation name that is not one of :data:`OPERATIONS`.

    :param operation: the task's ``operation``.
    :raises ConfigurationError: naming the operations there are.
    """
    if not isinstance(operation, str) or operation not in OPERATIONS:
        raise ConfigurationError(f"'operation'={operation!r} is not one of {', '.join(OPERATIONS)}")
    return cast(Operation, operation)


def check_approved_plan(approved_plan: object, strict_plan: bool) -> None:
    """Refuse an ``approved_plan`` that is not a task id, and ``strict_plan`` without one.

    :param approved_plan: the option's value.
    :param strict_plan: the ``strict_plan`` option.
    :raises ConfigurationError: naming the option and the fix.
    """
    if approved_plan is not None and (not isinstance(approved_plan, str) or not approved_plan.strip()):
        raise ConfigurationError(
            f"'approved_plan'={approved_plan!r} must be the task id of the preview whose plan is approved, e.g. "
            "approved_plan='storage_preview' (or use .with_approval(), which binds it for you)"
        )
    if strict_plan and approved_plan is None:
        raise ConfigurationError(
            "'strict_plan'=True needs 'approved_plan', the preview task whose plan the up applies: "
            "approved_plan='storage_preview', strict_plan=True"
        )

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


_FLAGS = ("expect_no_changes", "refresh", "preview_only", "clear_pending_creates", "remove_stack", "cancel_stale_lock",
          "strict_plan")


@dataclass(frozen=True)
class OperationOptions:
    """How an operation runs, beyond which stack and program; checked and normalised when created.

    A task's options are made by :meth:`for_task`, which also checks which options apply to which operation.

    :param expect_no_changes: fail with :class:`DriftDetectedError` if the operation finds changes.
    :param refresh: refresh state from the cloud first (``up``, ``preview``, ``destroy``).
    :param preview_only: ``refresh`` only: report drift, write nothing.
    :param clear_pending_creates: drop the pending creates a hard kill left in the state (Pulumi keeps them, and
        warns on every update, until then): ``refresh`` drops them as it refreshes; ``up`` first runs such a
        refresh, then updates (the one-option recovery after a killed create).
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
    :param approved_plan: ``up`` only: the task id of the preview whose plan was approved (plan binding). The
        ``up`` plans again before it applies anything and fails with :class:`PlanChangedError`, applying nothing,
        if the plan differs from that preview's (its steps, inputs, config, CLI or SDK version). Set by
        ``.with_approval()``; give it yourself for a preview → your own approval → ``up``. A mapped ``up`` is
        bound to the same map index of the preview.
    :param strict_plan: with ``approved_plan``: also constrain the ``up`` to the plan made again (Pulumi's update
        plans, ``preview --save-plan`` then ``up --plan``), so nothing can differ between that plan and the apply.
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
    approved_plan: str | None = None
    strict_plan: bool = False

    def __post_init__(self) -> None:
        put = object.__setattr__
        for flag in _FLAGS:
            put(self, flag, bool(getattr(self, flag)))
        check_approved_plan(self.approved_plan, self.strict_plan)
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

    @classmethod
    def for_task(
        cls,
        operation: str | None,
        options: object = None,
        keywords: Mapping[str, Any] | None = None,
        *,
        default_args: Mapping[str, Any] | None = None,
        refines: bool = False,
    ) -> OperationOptions:
        """A task's options, whichever way it gave them: the one way in for ``@pulumi_stack`` and its
        ``.override()``, ``PulumiStackOperator``, its ``partial`` and ``default_args``.

        :param operation: the task's ``operation``; each option is checked to apply to it (``None``: not
            known yet, as in ``partial``).
        :param options: the task's ``options=`` (possibly from ``default_args``), or ``None``.
        :param keywords: options given as keywords of their own (``lock_wait=600``; :func:`pop_option_keywords`).
        :param default_args: the task's merged ``default_args``, which are defaults as for any operator argument:
            ``options`` there is refined by the task's option keywords; option keywords there fill in for a task
            that gives no ``options`` (the task's own keywords win).
        :param refines: the keywords replace fields of ``options`` instead of conflicting with them
            (``.override(lock_wait=...)`` of a task declared with ``options=``).
        :raises ConfigurationError: an unknown operation, ``options`` that is not an :class:`OperationOptions`,
            ``options`` and option keywords together, or an option that does not apply to the operation,
            naming them.
        """
        if operation is not None:
            check_operation(operation)
        if options is None and not keywords and not default_args:
            return _DEFAULT  # most tasks: nothing to group, check or copy
        keywords = dict(keywords or {})
        defaults = default_args or {}
        if isinstance(options, OperationOptions) and (refines or options is defaults.get("options")):
            chosen = dataclasses.replace(options, **keywords) if keywords else options
        else:
            if options is None:
                keywords = {**{k: v for k, v in defaults.items() if k in OPTION_KEYWORDS}, **keywords}
            chosen = _grouped(options, keywords)
        return chosen if operation is None else _check_applies(operation, chosen)


#: The options of a task that gives none (every default applies to every operation).
_DEFAULT = OperationOptions()

#: Options that apply to some operations only, and to which.
_APPLIES_TO = (
    ("preview_only", ("refresh",)),
    ("clear_pending_creates", ("refresh", "up")),
    ("remove_stack", ("destroy",)),
    ("policy_packs", ("up", "preview")),
    ("policy_pack_configs", ("up", "preview")),
    ("expect_no_changes", ("up", "preview", "refresh")),
    ("refresh", ("up", "preview", "destroy")),
    ("approved_plan", ("up",)),
    ("strict_plan", ("up",)),
)


#: The options a task also takes as keywords of its own (``@pulumi_stack(lock_wait=600)``, ``.override(...)``);
#: ``lock_retry_delay`` is only an :class:`OperationOptions` field.
OPTION_KEYWORDS: tuple[str, ...] = (*_FLAGS, "policy_packs", "policy_pack_configs", "lock_wait", "kill_grace_period",
                                    "approved_plan")



def pop_option_keywords(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Take the :data:`OPTION_KEYWORDS` out of a task's keyword arguments.

    :param kwargs: the task's keyword arguments; the option keywords are removed from it.
    :returns: the option keywords given, by name.
    """
    return {name: kwargs.pop(name) for name in OPTION_KEYWORDS if name in kwargs}


def _grouped(options: object, keywords: Mapping[str, Any]) -> OperationOptions:
    """Options given one way: ``options=`` or option keywords, never both."""
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


def _check_applies(operation: str, options: OperationOptions) -> OperationOptions:
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


def describe_operation(operation: str, options: OperationOptions) -> str:
    """The operation as the log names it: a preview or refresh with ``expect_no_changes`` is a drift check."""
    if options.expect_no_changes:
        refresh = ", refresh first" if options.refresh else ""
        return f"drift check ({operation}{refresh}; fails on any change)"
    return operation
