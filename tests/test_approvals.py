"""Approval gates (:mod:`airflow_pulumi_decorators.approvals`): the request body and the gate task. Gates on
real DAG runs, approved and rejected, are in ``tests/integration/test_approvals.py``."""

from __future__ import annotations

import jinja2
import pendulum
from airflow.sdk import DAG

from airflow_pulumi_decorators import pulumi_stack
from airflow_pulumi_decorators.approvals import approval_body, approval_gate
from airflow_pulumi_decorators.operations import SUMMARY_KEY


def _render(body: str, plan: dict, summary: dict) -> str:
    """Render ``body`` as Airflow would, with a ``ti`` whose ``xcom_pull`` returns the preview's XComs."""

    class TI:
        def xcom_pull(self, task_ids, key="return_value"):
            assert task_ids == "storage_preview"
            return summary if key == SUMMARY_KEY else plan

    return jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(body).render(ti=TI())


def test_body_lists_the_planned_change_counts_and_steps_of_the_preview():
    plan = {"changes": {"update": 1, "create": 2},
            "steps": [{"op": "create", "type": "gcp:storage/bucket:Bucket", "name": "raw"}]}
    text = _render(approval_body("storage_preview"), plan, {"stack": "prod", "project": "storage"})
    assert text.startswith("### Planned changes on stack `prod` (project `storage`)")
    assert "- **create**: 2\n- **update**: 1" in text  # sorted by operation
    assert "- `create` gcp:storage/bucket:Bucket **raw**" in text
    assert "No resource changes." not in text


def test_body_says_when_no_resource_changes():
    text = _render(approval_body("storage_preview"), {"changes": {"same": 3}, "steps": []},
                   {"stack": "dev", "project": "storage"})
    assert "No resource changes." in text and "- **same**: 3" in text


def test_gate_follows_the_preview_with_default_id_and_subject():
    @pulumi_stack(project="storage", stack="prod")
    def storage():
        return {}

    with DAG("gate_unit", schedule=None, start_date=pendulum.datetime(2026, 1, 1)) as dag:
        plan = storage.preview()
        gate = approval_gate(plan, assigned_users=[{"id": "ops", "name": "ops"}])
        named = approval_gate(plan, task_id="sign_off", subject="Ship it?")
    assert gate.task_id == "storage_approval" and type(gate).__name__ == "ApprovalOperator"
    assert gate.subject == "Apply the planned infrastructure changes of storage?"
    assert gate.body == approval_body("storage_preview")
    assert (named.task_id, named.subject) == ("sign_off", "Ship it?")
    assert dag.task_dict["storage_preview"].downstream_task_ids == {"storage_approval", "sign_off"}
