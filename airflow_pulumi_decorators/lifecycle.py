"""Operations beyond ``up``: validating their options, protected environments, per-run stack names.

Everything here is plain Python (no Pulumi, no ``airflow.sdk``), so it runs at DAG parse time.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_pulumi_decorators import names
from airflow_pulumi_decorators.environments import Environment
from airflow_pulumi_decorators.errors import ConfigurationError, ProtectedStackError

OPERATIONS = ("up", "preview", "refresh", "destroy")


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


def operation_options(
    operation: str,
    *,
    expect_no_changes: bool = False,
    refresh: bool = False,
    preview_only: bool = False,
    clear_pending_creates: bool = False,
    remove_stack: bool = False,
    policy_packs: Sequence[str] | None = None,
    policy_pack_configs: Sequence[str] | None = None,
    lock_wait: float | datetime.timedelta = 0,
    cancel_stale_lock: bool = False,
    kill_grace_period: float | datetime.timedelta = 60,
) -> Any:
    """Check a task's operation options when the DAG is parsed; returns the engine's ``OperationOptions``.

    :raises ConfigurationError: an unknown operation or an option that does not apply to it, naming both.
    """
    from airflow_pulumi_decorators.engine import (
        OperationOptions,  # no Pulumi import at module level there
    )

    if operation not in OPERATIONS:
        raise ConfigurationError(f"'operation'={operation!r} is not one of {', '.join(OPERATIONS)}")

    def only(flag: str, value: Any, allowed: tuple[str, ...]) -> None:
        if value and operation not in allowed:
            raise ConfigurationError(
                f"{flag!r} applies to operation={' or '.join(repr(a) for a in allowed)}, not {operation!r}; "
                f"drop it or change 'operation'"
            )

    only("preview_only", preview_only, ("refresh",))
    only("clear_pending_creates", clear_pending_creates, ("refresh",))
    only("remove_stack", remove_stack, ("destroy",))
    only("policy_packs", policy_packs, ("up", "preview"))
    only("policy_pack_configs", policy_pack_configs, ("up", "preview"))
    only("expect_no_changes", expect_no_changes, ("up", "preview", "refresh"))
    only("refresh", refresh, ("up", "preview", "destroy"))
    packs = _paths("policy_packs", policy_packs)
    configs = _paths("policy_pack_configs", policy_pack_configs)
    if configs and len(configs) != len(packs):
        raise ConfigurationError(
            f"'policy_pack_configs' has {len(configs)} entries for {len(packs)} 'policy_packs'; give one config "
            "file per pack, in the same order"
        )
    return OperationOptions(
        expect_no_changes=bool(expect_no_changes),
        refresh=bool(refresh),
        preview_only=bool(preview_only),
        clear_pending_creates=bool(clear_pending_creates),
        remove_stack=bool(remove_stack),
        policy_packs=packs,
        policy_pack_configs=configs,
        lock_wait=_seconds("lock_wait", lock_wait),
        cancel_stale_lock=bool(cancel_stale_lock),
        kill_grace_period=_seconds("kill_grace_period", kill_grace_period),
    )


def check_protected(name: str, env: Environment, options: Any, *, allow: bool, operation: str,
                    task_id: str = "", function: str = "") -> None:
    """Refuse ``destroy`` (and removing the stack) on a protected environment unless the task allows it.

    :param name: the environment's name.
    :param env: the environment.
    :param options: the task's ``OperationOptions``.
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


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def stack_name_filter(value: Any) -> str:
    """Any text (a run id, a branch name) as a valid Pulumi stack name; a Jinja filter (``| stack_name``).

    ``feature/Login+SSO`` → ``feature-Login-SSO``; ``manual__2026-01-01T00:00:00+00:00`` →
    ``manual__2026-01-01T00-00-00-00-00``. Long names are shortened with a hash so two never collide.
    """
    text = _UNSAFE.sub("-", str(value)).strip("-.") or "stack"
    if len(text) > names.MAX_NAME_LENGTH:
        digest = hashlib.sha1(str(value).encode()).hexdigest()[:8]
        text = f"{text[: names.MAX_NAME_LENGTH - 9]}-{digest}"
    return text


def summary_line(summary: Mapping[str, Any]) -> str:
    """The summary as one JSON line, for log search (keys sorted, no secret values in it)."""
    return json.dumps(summary, sort_keys=True, default=str, separators=(",", ":"))
