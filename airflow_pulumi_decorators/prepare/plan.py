"""Plan binding at task start: what a preview's fingerprint records of its run (the program's inputs and the
stack config, :class:`~airflow_pulumi_decorators.plans.PlanBasis`), and, for an ``up`` bound to an approved
preview (``approved_plan``), that preview's fingerprint read from its XCom
(:class:`~airflow_pulumi_decorators.plans.PlanBinding`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_pulumi_decorators.errors import PlanChangedError
from airflow_pulumi_decorators.plans import PLAN_KEY, PlanBasis, PlanBinding, PlanFingerprint, secret_key

if TYPE_CHECKING:
    from airflow_pulumi_decorators.engine.request import RunContext
    from airflow_pulumi_decorators.environments import Environment
    from airflow_pulumi_decorators.stack_task import StackTask


def plan_binding(
    task: StackTask,
    context: Mapping[str, Any],
    env: Environment,
    run_context: RunContext,
    stack: str,
    environ: Mapping[str, str],
) -> tuple[PlanBasis | None, PlanBinding | None]:
    """The run's plan basis (a ``preview``, or an ``up`` bound to one) and an ``up``'s binding.

    :param task: the stack task (its arguments rendered).
    :param context: the task's Airflow context (its ``ti`` reads the preview's XCom).
    :param env: the run's environment (its config, rendered).
    :param run_context: the engine's variables (the passphrase that keys secret values).
    :param stack: the stack.
    :param environ: the worker's environment.
    :raises PlanChangedError: the ``up`` is bound to a preview that pushed no plan (it did not run, or failed).
    """
    from airflow_pulumi_decorators._airflow import masked_by_airflow

    bound = task.options.approved_plan
    if task.operation != "preview" and not (task.operation == "up" and bound):
        return None, None
    arguments = [*task.op_args, *task.op_kwargs.values()]
    secret = bool(env.secret_config) or any(masked_by_airflow(v) for v in arguments)
    # Deriving the key costs PBKDF2's rounds: only when there is a secret value to hash.
    key = secret_key(run_context.env, environ, project=task.project, stack=stack) if secret else None
    basis = PlanBasis.of(task.op_args, task.op_kwargs, env.config, env.secret_config, key=key,
                         is_secret=masked_by_airflow)
    secrets = "none" if not secret else "keyed" if key is not None else "presence"
    basis = PlanBasis(inputs=basis.inputs, config=basis.config, secrets=secrets)
    if task.operation == "preview" or not bound:
        return basis, None
    approved = _approved(context["ti"], bound, stack)
    return basis, PlanBinding(approved=approved, basis=basis, approved_task=bound, stack=stack,
                              strict=task.options.strict_plan)


def _approved(ti: Any, bound: str, stack: str) -> PlanFingerprint:
    """The fingerprint the bound preview pushed (the same map index for a mapped ``up``)."""
    map_index = getattr(ti, "map_index", -1)
    where = f"task {bound!r}" + (f" (map index {map_index})" if map_index not in (-1, None) else "")
    value = ti.xcom_pull(task_ids=bound, map_indexes=map_index if map_index not in (-1, None) else None)
    plan = value.get(PLAN_KEY) if isinstance(value, Mapping) else None
    try:
        return PlanFingerprint.from_xcom(plan or {})
    except ValueError:
        raise PlanChangedError(
            f"refusing to apply on stack {stack!r}: no approved plan was found in the XCom of {where} (it did not "
            "run, failed, or is not a preview of this library); nothing was applied. Run the preview and approve "
            "its plan, or check 'approved_plan'.",
            stack=stack, operation="up", changes=[f"no approved plan from {where}"],
        ) from None
