"""One operation on one stack through the Automation API: select (or create) the stack with the inline
program, set its config in one call, run ``up``/``preview``/``refresh``/``destroy``, read what it did."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_pulumi_decorators.engine.events import Observer
from airflow_pulumi_decorators.engine.request import OperationRequest
from airflow_pulumi_decorators.engine.stack import CREATING, SECRET, run_stack
from airflow_pulumi_decorators.engine.translate import drift_error
from airflow_pulumi_decorators.errors import ConfigurationError, PlanChangedError
from airflow_pulumi_decorators.outputs import StackOutput


@dataclass(frozen=True)
class Done:
    """What the operation call returned (the run loop adds steps, timing and attempts).

    :param outputs: stack outputs (``up`` only).
    :param changes: change counts by op.
    :param version: the update's number, when the backend numbers updates.
    :param removed: ``destroy`` removed the stack.
    :param cli_version: the CLI's version, as the workspace reports it.
    """

    outputs: dict[str, StackOutput] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    version: int | None = None
    removed: bool = False
    cli_version: str = ""


def open_stack(request: OperationRequest, program: Any, observer: Observer, options: Mapping[str, Any]) -> Any:
    """The request's stack with ``program``, its config set; ``up``/``preview`` create a missing stack.

    :param observer: the operation's event stream.
    :param options: the ``LocalWorkspace`` arguments (:func:`.stack.workspace_options`).
    """
    from pulumi import automation as auto

    stack = run_stack(request, program, observer, options, create=request.operation in CREATING)
    values = {k: auto.ConfigValue(value=v, secret=False) for k, v in request.config.items()}
    values.update({k: auto.ConfigValue(value=v, secret=True) for k, v in request.secret_config.items()})
    if values:
        stack.set_all_config(values)
    return stack


def _clear_pending_creates(stack: Any, request: OperationRequest, observer: Observer) -> None:
    """``up`` with ``clear_pending_creates``: first a refresh that drops the pending creates a hard-killed update
    left (Pulumi keeps them until then), as the CLI's ``pulumi refresh --clear-pending-creates``. Its lines go to
    the log; its steps are not the update's."""
    refresh_observer = Observer(observer.on_output)
    observer.on_output(f"pulumi: refreshing stack {request.stack!r} first, dropping pending creates "
                       "(clear_pending_creates=True)")
    stack.refresh(show_secrets=False, clear_pending_creates=True, message=request.message or None,
                  on_output=refresh_observer.line, on_error=refresh_observer.line, on_event=refresh_observer.event,
                  color="never")


def run_operation(stack: Any, request: OperationRequest, observer: Observer) -> Done:
    """Run the request's operation on ``stack``, streaming to ``observer``.

    :param stack: from :func:`open_stack` (it keeps the outputs as shown masked).
    :raises DriftDetectedError: ``expect_no_changes`` and a preview or refresh found changes.
    """
    options = request.options
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
    cli = cli_version(stack)
    if request.operation == "up":
        if options.clear_pending_creates:
            _clear_pending_creates(stack, request, observer)
        plan = _check_plan(stack, request, observer, {**policy, **flags}, cli) if request.plan_binding else {}
        try:
            res = stack.up(show_secrets=False, **common, **policy, **flags, **plan)
        except Exception as exc:
            raise _plan_violated(request, exc) or exc from None
        masked = stack.masked_outputs
        outputs = {
            k: StackOutput(value=v.value, secret=bool(v.secret) or nested_secret(masked.get(k)))
            for k, v in res.outputs.items()
        }
        changes, version = summary_changes(res.summary), update_version(res.summary)
    elif request.operation == "preview":
        res = stack.preview(**common, **policy, **flags)
        changes = {str(getattr(op, "value", op)): int(n) for op, n in (res.change_summary or {}).items()}
    elif request.operation == "refresh":
        extra = {"clear_pending_creates": True} if options.clear_pending_creates else {}
        if options.preview_only:
            res = stack.preview_refresh(show_secrets=False, **common, **flags, **extra)
        else:
            res = stack.refresh(show_secrets=False, **common, **flags, **extra)
        changes = summary_changes(getattr(res, "summary", None))
        version = None if options.preview_only else update_version(res.summary)
        if observer.summary_changes is not None and not changes:
            changes = dict(observer.summary_changes)
    else:
        res = stack.destroy(show_secrets=False, remove=options.remove_stack or None, **common, **flags)
        changes, version = summary_changes(res.summary), update_version(res.summary)
        removed = options.remove_stack
    if observer.summary_changes is not None and request.operation == "preview" and not changes:
        changes = dict(observer.summary_changes)
    if options.expect_no_changes and request.operation in ("preview", "refresh"):
        drift = drift_error(request, changes, observer.steps)
        if drift is not None:
            raise drift
    return Done(outputs=outputs, changes=changes, version=version, removed=removed, cli_version=cli)


def cli_version(stack: Any) -> str:
    """The CLI's version as the workspace knows it (``""`` when the command did not say)."""
    try:
        return str(stack.workspace.pulumi_version)
    except Exception:  # noqa: BLE001 - Pulumi raises a bare InvalidVersionError-like error when it has none
        return ""


def sdk_version() -> str:
    """The installed Pulumi SDK's version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pulumi")
    except PackageNotFoundError:  # pragma: no cover - the engine runs with the SDK installed
        return ""


#: The plan file of a strict ``up``, in the run's work directory (removed with it: it holds encrypted state).
PLAN_FILE = "approved-plan.json"


def _check_plan(stack: Any, request: OperationRequest, observer: Observer, flags: Mapping[str, Any],
                cli: str) -> dict[str, Any]:
    """A bound ``up``: plan again (a preview in the same run, its lines in the log, its steps its own) and check the
    plan against the approved one before anything is applied; a strict one saves that plan and returns the
    ``up``'s argument that constrains it to the plan.

    :raises PlanChangedError: the plan differs from the approved one.
    :raises ConfigurationError: ``strict_plan`` on a CLI without update plans.
    """
    binding = request.plan_binding
    assert binding is not None
    replan = Observer(observer.on_output)
    saved = {"plan": os.path.join(stack.workspace.work_dir, PLAN_FILE)} if binding.strict else {}
    observer.on_output(f"pulumi: planning again to compare with the plan approved in task "
                       f"{binding.approved_task!r}{' (strict: the up is constrained to this plan)' if saved else ''}")
    try:
        stack.preview(message=request.message or None, on_output=replan.line, on_error=replan.line,
                      on_event=replan.event, color="never", **flags, **saved)
    except Exception as exc:
        refused = [line.strip() for line in str(exc).splitlines() if "unknown flag" in line and "plan" in line]
        if saved and refused:
            raise ConfigurationError(
                f"strict_plan=True needs a Pulumi CLI with update plans (`preview --save-plan`, `up --plan`); "
                f"this one refused them ({refused[0]}). Use the real pulumi CLI (3.274.1 is tested) or drop "
                "strict_plan: the up is still checked against the approved plan"
            ) from None
        raise
    binding.check(replan.steps, cli, sdk_version())
    observer.on_output("pulumi: the plan is the approved one; applying it")
    return saved


def _plan_violated(request: OperationRequest, exc: BaseException) -> PlanChangedError | None:
    """A strict ``up`` that would have deviated from its plan (the CLI stops before applying the resource)."""
    binding = request.plan_binding
    text = str(exc)
    if binding is None or not binding.strict or "violates plan" not in text:
        return None
    found = [line.strip() for line in text.splitlines() if "violates plan" in line]
    return PlanChangedError(
        f"refusing to apply on stack {request.stack!r}: the up deviated from the plan approved in task "
        f"{binding.approved_task!r} (strict_plan): {found[0] if found else 'a resource violates the plan'}. The "
        "CLI stopped at that resource; run the preview again and approve the new plan.",
        stack=request.stack, operation="up", changes=sorted(set(found)),
    )


def nested_secret(masked: Any) -> bool:
    """Whether a secret is anywhere inside an output (a dict key, a list item, a resource's property).

    A value that is literally ``"[secret]"`` counts as secret too: withholding it is the safe side.
    """
    if masked == SECRET:
        return True
    if isinstance(masked, dict):
        return any(nested_secret(v) for v in masked.values())
    if isinstance(masked, list):
        return any(nested_secret(v) for v in masked)
    return False


def update_version(summary: Any) -> int | None:
    """The update's number; ``None`` where the backend numbers none (file, gs:// and other diy backends
    report 0)."""
    return getattr(summary, "version", None) or None


def summary_changes(summary: Any) -> dict[str, int]:
    changes = getattr(summary, "resource_changes", None) or {}
    return {str(op): int(n) for op, n in changes.items()}

