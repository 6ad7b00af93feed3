"""Publish: what a stack task reports once the engine is done, in the order a reader of the log meets it.

1. :func:`report`: the result line, the steps' property diffs, the ``pulumi_summary`` XCom (with the update's
   link), policy warnings;
2. :func:`task_value`: the task's return value — the stack outputs as XCom (secret outputs withheld behind a
   marker, pushed as references, or — deprecated — pushed masked), a warning for each declared output left
   without a value, the stack's asset event — or, for ``preview``/``refresh``/``destroy``, the changes (and a
   drift check's drift event; a preview's plan fingerprint under ``plan``, :mod:`airflow_pulumi_decorators.plans`).

- :mod:`.summary`: the :class:`~.summary.Summary` fields and the non-``up`` return value;
- :mod:`.xcom`: stack outputs to XCom;
- :mod:`.diffs`: the property diffs as the log shows them;
- :mod:`.events`: the asset event of an ``up``, the drift event of a drift check;
- :mod:`.links`: the link to the update (Pulumi Cloud);
- :mod:`.target`: the ``pulumi_target`` XCom (which stack the task works on, for the Pulumi view in the UI).

Nothing here imports Pulumi or the engine; it reads the engine's plain result. Parsing a DAG file loads
only :mod:`.links` (the operator's extra link); the rest is imported when a task reports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from airflow_pulumi_decorators.operations import SUMMARY_KEY, describe_operation

if TYPE_CHECKING:
    from airflow_pulumi_decorators.engine import OperationRequest, OperationResult
    from airflow_pulumi_decorators.publish.summary import Summary
    from airflow_pulumi_decorators.stack_task import TaskLog

__all__ = ["report", "task_value"]


def report(
    request: OperationRequest,
    result: OperationResult,
    *,
    environment: str,
    context: Mapping[str, Any],
    log: TaskLog,
) -> Summary:
    """Log what the operation did, push the ``pulumi_summary`` XCom and warn about advisory policy violations.

    :param request: what the engine was asked.
    :param result: what it reported.
    :param environment: the run's environment name.
    :param context: the task's Airflow context (its ``ti`` receives the XCom).
    :param log: the task log.
    :return: the summary pushed (its ``url`` is the task's link).
    """
    from airflow_pulumi_decorators.publish.links import update_url
    from airflow_pulumi_decorators.publish.summary import summary, summary_text

    changes = ", ".join(f"{op}={n}" for op, n in sorted(result.changes.items())) or "none"
    # Backends other than Pulumi Cloud number no updates (docs/operations.md): no version then, never "None".
    version = "" if result.version is None else f"; version={result.version}"
    log.info(
        "pulumi %s on stack %s: changes: %s%s; %.1fs",
        describe_operation(request.operation, request.options),
        result.stack,
        changes,
        version,
        result.duration_s,
    )
    pushed = summary(
        result, project=request.project, environment=environment, backend=request.context.backend_text,
        message=request.message,
        url=update_url(request.context.backend, request.project, result.stack, result.version),
    )
    log.info("%s", summary_text(pushed))
    if result.steps:
        from airflow_pulumi_decorators.publish.diffs import diff_lines

        # Values come blinded from the engine's events: a secret is "[secret]" here, never its value.
        log.info("pulumi %s: resource changes (as `pulumi preview --diff` shows them):\n%s",
                 request.operation, "\n".join(diff_lines(result.steps)))
    context["ti"].xcom_push(key=SUMMARY_KEY, value=pushed)
    for v in result.policy_violations:
        log.warning("pulumi policy (%s) %s/%s: %s", v["level"], v["policy_pack"], v["policy"], v["message"])
    return pushed


def task_value(
    request: OperationRequest,
    result: OperationResult,
    *,
    context: Mapping[str, Any],
    push_secret_outputs: bool,
    emit_asset: bool,
    log: TaskLog,
    mask: Callable[[str], None],
    secret_outputs: str = "withhold",
    environment: str = "",
    conn_id: str | None = None,
    identity: Any = None,
    emit_drift_event: bool = False,
) -> dict[str, Any]:
    """The task's return value: the outputs of an ``up`` as XCom (and its asset event), else the changes.

    :param request: what the engine was asked.
    :param result: what it reported.
    :param context: the task's Airflow context (its ``outlet_events`` receive the asset event; its ``ti``
        names the producer in references).
    :param push_secret_outputs: push secret outputs in plain text (deprecated), masked in this task's log.
    :param secret_outputs: ``withhold`` or ``reference`` (push a reference to each secret output).
    :param environment: the run's environment name (recorded in references).
    :param conn_id: the ``pulumi`` connection the run used (recorded in references: the reader uses it too).
    :param identity: the environment's identity: one read from an Airflow connection is recorded in references
        by its connection id (the reader obtains its own credential from it).
    :param emit_asset: emit the stack's asset event after an ``up``.
    :param emit_drift_event: emit the stack's drift event (the task is a drift check).
    :param log: the task log.
    :param mask: registers a value with Airflow's secret masker.
    :raises ReservedOutputNameError: an output the program exported itself has a reserved name.
    """
    if request.operation != "up":
        from airflow_pulumi_decorators.publish.summary import summary_return

        if emit_drift_event:
            from airflow_pulumi_decorators.publish import events

            events.emit_drift_event(context, request.project, result, log=log.info)
        value = summary_return(result)
        if request.operation == "preview" and request.plan_basis is not None:
            from airflow_pulumi_decorators.plans import PLAN_KEY, PlanFingerprint

            # What an up bound to this preview (approved_plan) compares its own plan with; no secret value in it.
            value[PLAN_KEY] = PlanFingerprint.of(result.steps, request.plan_basis, cli_version=result.cli_version,
                                                 sdk_version=result.sdk_version).to_xcom()
        return value
    from airflow_pulumi_decorators.publish.xcom import to_xcom, warn_missing_outputs

    reference = None
    if secret_outputs == "reference":
        reference = _references(request, result, context=context, environment=environment, conn_id=conn_id,
                                identity=identity)
    value = to_xcom(
        result.outputs, push_secrets=push_secret_outputs, mask=mask, log=log.info,
        multiple_outputs=request.multiple_outputs, declared=result.declared_outputs, reference=reference,
        project=request.project, stack=result.stack,
    )
    warn_missing_outputs(result.declared_outputs, result.outputs, warn=log.warning)
    if emit_asset:
        from airflow_pulumi_decorators.publish.events import emit_stack_event

        emit_stack_event(context, request.project, result, log=log.info)
    return value


def _references(
    request: OperationRequest, result: OperationResult, *, context: Mapping[str, Any], environment: str,
    conn_id: str | None, identity: Any,
) -> Callable[[str], dict[str, Any]]:
    """The reference of each secret output of this run: where it is, never its value."""
    from airflow_pulumi_decorators.identity.connection import FromConnection
    from airflow_pulumi_decorators.outputs import SecretOutputRef, public_backend_url

    ti = context.get("ti")
    # Only a connection's id is safe to record; another identity may hold a credential configuration.
    from_connection = identity if isinstance(identity, FromConnection) else None
    backend = request.context.backend

    def reference(key: str) -> dict[str, Any]:
        return SecretOutputRef(
            project=request.project, stack=result.stack, key=key,
            backend=public_backend_url(backend.url if backend is not None else None),
            environment=environment, pulumi_conn_id=conn_id,
            identity_conn_id=from_connection.conn_id if from_connection else None,
            identity_kind=from_connection.kind if from_connection else None,
            dag_id=str(getattr(ti, "dag_id", "") or ""), task_id=str(getattr(ti, "task_id", "") or ""),
        ).to_xcom()

    return reference
