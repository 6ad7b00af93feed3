"""Approval gates: preview → a human approves the planned changes in Airflow (HITL) → up.

Uses Airflow's own :class:`airflow.providers.standard.operators.hitl.ApprovalOperator` (Airflow ≥ 3.1):
the request shows the planned change counts and per-resource steps from the preview task's XCom, in the
"Required actions" page of the UI. "Reject" skips the ``up``.
"""

from __future__ import annotations

from typing import Any

from airflow_pulumi_decorators.operations import SUMMARY_KEY

_BODY = """\
### Planned changes on stack `{{{{ ti.xcom_pull(task_ids='{plan}', key='{summary_key}')['stack'] }}}}` \
(project `{{{{ ti.xcom_pull(task_ids='{plan}', key='{summary_key}')['project'] }}}}`)

{{% set plan = ti.xcom_pull(task_ids='{plan}') %}}\
{{% for op, n in plan['changes'] | dictsort %}}- **{{{{ op }}}}**: {{{{ n }}}}
{{% endfor %}}
{{% for step in plan['steps'] %}}- `{{{{ step['op'] }}}}` {{{{ step['type'] }}}} **{{{{ step['name'] }}}}**
{{% else %}}No resource changes.
{{% endfor %}}
"""


def approval_body(plan_task_id: str) -> str:
    """The templated Markdown body listing a preview task's planned changes (for your own HITL operator)."""
    return _BODY.format(plan=plan_task_id, summary_key=SUMMARY_KEY)


def approval_gate(plan: Any, *, task_id: str | None = None, subject: str | None = None, **kwargs: Any) -> Any:
    """An ``ApprovalOperator`` downstream of a preview task, showing its planned changes.

    :param plan: the preview task's ``XComArg`` (``storage.preview(...)``).
    :param task_id: defaults to ``<preview task>_approval``.
    :param subject: the request's title; defaults to "Apply planned changes to <task>?".
    :param kwargs: more ``ApprovalOperator`` arguments (``assigned_users``, ``response_timeout``,
        ``notifiers``, ``fail_on_reject`` …).
    """
    try:
        from airflow_pulumi_decorators._airflow import approval_operator

        ApprovalOperator = approval_operator()  # noqa: N806 - a class
    except ImportError as exc:  # pragma: no cover - Airflow < 3.1
        from airflow_pulumi_decorators.errors import ConfigurationError

        raise ConfigurationError(
            "approval gates need Airflow >= 3.1 with apache-airflow-providers-standard (ApprovalOperator)"
        ) from exc
    plan_id = plan.operator.task_id
    base = plan_id.removesuffix("_preview")
    gate = ApprovalOperator(
        task_id=task_id or f"{base}_approval",
        subject=subject or f"Apply the planned infrastructure changes of {base}?",
        body=approval_body(plan_id),
        **kwargs,
    )
    plan >> gate
    return gate
