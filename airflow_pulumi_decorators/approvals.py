"""Approval gates: preview → a human approves the planned changes in Airflow (HITL) → up.

Uses Airflow's own :class:`airflow.providers.standard.operators.hitl.ApprovalOperator` (Airflow ≥ 3.1):
the request shows the planned change counts and, per resource, its step and property diff (old → new) from
the preview task's XCom, in the "Required actions" page of the UI. "Reject" skips the ``up``.
"""

from __future__ import annotations

from typing import Any

from airflow_pulumi_decorators.operations import SUMMARY_KEY

#: At most this many property changes are shown per resource; the rest are counted and left to the log.
BODY_CHANGES_PER_RESOURCE = 12
#: At most this many resources are shown; the rest are counted.
BODY_RESOURCES = 25

# Rendered by Airflow's Jinja (no filters of ours): per resource a heading (a replacement or a deletion is
# marked, with what forces it) and a fenced ``diff`` block of old and new values. Values come from the
# preview's steps, secrets already "[secret]"; a fence inside a value is broken so it cannot end the block.
_BODY = """\
### Planned changes on stack `{{ ti.xcom_pull(task_ids='__PLAN__', key='__SUMMARY__')['stack'] }}` \
(project `{{ ti.xcom_pull(task_ids='__PLAN__', key='__SUMMARY__')['project'] }}`)

{% set plan = ti.xcom_pull(task_ids='__PLAN__') %}\
{% for op, n in plan['changes'] | dictsort %}- **{{ op }}**: {{ n }}
{% endfor %}
{% for step in plan['steps'][:__RESOURCES__] %}\
{% set loud = step['op'] in ('replace', 'delete') %}\
#### {{ '⚠ ' if loud else '' }}`{{ step['op'] }}` {{ step['type'] }} **{{ step['name'] }}**\
{% if step.get('replace_keys') %} (replaced because `{{ step['replace_keys'] | join('`, `') }}` changed){% endif %}
{% set changes = step.get('diff') or [] %}\
{% if changes %}
```diff
{% for c in changes[:__PER_RESOURCE__] %}\
{% if c['kind'] != 'add' %}- {{ c['path'] }}: {{ c['old'] | replace('```', '` ` `') }}
{% endif %}\
{% if c['kind'] != 'delete' %}+ {{ c['path'] }}: {{ c['new'] | replace('```', '` ` `') }}\
{% if c.get('replace') %}   (forces replacement){% endif %}
{% endif %}\
{% endfor %}\
```
{% set more = changes[__PER_RESOURCE__:] | length + step.get('diff_omitted', 0) %}\
{% if more %}_{{ more }} more changes: the full diff is in the log of task `__PLAN__` and on \
[its page in the Pulumi view](__VIEW__)._
{% endif %}\
{% endif %}
{% else %}No resource changes.
{% endfor %}\
{% if plan['steps'] | length > __RESOURCES__ %}_{{ plan['steps'] | length - __RESOURCES__ }} more resources \
change: see the log of task `__PLAN__` or [its page in the Pulumi view](__VIEW__)._
{% endif %}\
"""


def _view_url(plan_task_id: str) -> str:
    """The preview task instance's page in the Pulumi view (docs/ui.md), as a Jinja expression of the request's
    run: below ``[api] base_url`` (read when the DAG is parsed), else the path alone, which the UI opens on its
    own server."""
    from urllib.parse import quote

    from airflow_pulumi_decorators._airflow import config_get
    from airflow_pulumi_decorators.ui.urls import URL_PREFIX

    base = str(config_get("api", "base_url", fallback="") or "").rstrip("/")
    each = "| urlencode | replace('/', '%2F')"
    return (f"{base}{URL_PREFIX}/ti/{{{{ ti.dag_id {each} }}}}/{{{{ ti.run_id {each} }}}}/"
            f"{quote(plan_task_id, safe='')}/{{{{ ti.map_index }}}}")


def approval_body(plan_task_id: str) -> str:
    """The templated Markdown body showing a preview task's planned changes (for your own HITL operator).

    Per resource: its step (a replacement or a deletion marked ⚠, with the properties forcing a
    replacement) and a fenced ``diff`` block, ``- path: old`` / ``+ path: new`` per property, at most
    :data:`BODY_CHANGES_PER_RESOURCE` of them ("N more changes" points to the preview task's log, which has
    them all, as does the preview's page in the Pulumi view, linked there); secret values show as ``[secret]``.

    :param plan_task_id: the preview task's id.
    """
    return (_BODY.replace("__VIEW__", _view_url(plan_task_id)).replace("__PLAN__", plan_task_id)
            .replace("__SUMMARY__", SUMMARY_KEY)
            .replace("__PER_RESOURCE__", str(BODY_CHANGES_PER_RESOURCE)).replace("__RESOURCES__", str(BODY_RESOURCES)))


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
