"""Approval gates (:mod:`airflow_pulumi_decorators.approvals`): the request body and the gate task. Gates on
real DAG runs, approved and rejected, are in ``tests/integration/test_approvals.py``."""

from __future__ import annotations

import jinja2
import pendulum
from airflow.sdk import DAG

from airflow_pulumi_decorators import pulumi_stack
from airflow_pulumi_decorators.approvals import BODY_CHANGES_PER_RESOURCE, approval_body, approval_gate
from airflow_pulumi_decorators.operations import SUMMARY_KEY
from airflow_pulumi_decorators.ui.urls import task_path


def _render(body: str, plan: dict, summary: dict) -> str:
    """Render ``body`` as Airflow would, with a ``ti`` whose ``xcom_pull`` returns the preview's XComs."""

    class TI:
        dag_id, run_id, map_index = "deploy", "manual__2026-12-06T10:00:00+00:00", -1

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
    assert "#### `create` gcp:storage/bucket:Bucket **raw**\n" in text
    assert "No resource changes." not in text and "```" not in text  # a step without a diff has no block


def _change(path, kind, old=None, new=None, replace=False):
    entry = {"path": path, "kind": kind}
    if old is not None:
        entry["old"] = old
    if new is not None:
        entry["new"] = new
    if replace:
        entry["replace"] = True
    return entry


def test_body_shows_each_resource_property_diff_old_and_new_in_a_diff_block():
    plan = {"changes": {"update": 1}, "steps": [{
        "op": "update", "type": "gcp:cloudrunv2/service:Service", "name": "api", "replace_keys": [], "diff": [
            _change("template.containers[0].image", "update", '"api:1.4.2"', '"api:1.5.0"'),
            _change("scaling.maxInstanceCount", "update", "3", "5"),
            _change("labels.team", "add", new='"payments"'),
            _change("password", "update", "[secret]", "[secret]"),
            _change("ingress", "delete", old='"all"'),
        ]}]}
    text = _render(approval_body("storage_preview"), plan, {"stack": "prod", "project": "storage"})
    assert "#### `update` gcp:cloudrunv2/service:Service **api**\n\n```diff\n" in text
    assert ('```diff\n- template.containers[0].image: "api:1.4.2"\n+ template.containers[0].image: "api:1.5.0"\n'
            '- scaling.maxInstanceCount: 3\n+ scaling.maxInstanceCount: 5\n+ labels.team: "payments"\n'
            '- password: [secret]\n+ password: [secret]\n- ingress: "all"\n```\n') in text
    assert "more changes" not in text


def test_body_marks_replacements_and_deletions_and_what_forces_a_replacement():
    plan = {"changes": {"replace": 1, "delete": 1}, "steps": [
        {"op": "replace", "type": "t:m:R", "name": "svc", "replace_keys": ["region"],
         "diff": [_change("region", "update", '"eu"', '"us"', replace=True)]},
        {"op": "delete", "type": "t:m:R", "name": "old", "replace_keys": [], "diff": [_change("a", "delete", "1")]},
    ]}
    text = _render(approval_body("storage_preview"), plan, {"stack": "prod", "project": "storage"})
    assert "#### ⚠ `replace` t:m:R **svc** (replaced because `region` changed)\n" in text
    assert '- region: "eu"\n+ region: "us"   (forces replacement)\n' in text
    assert "#### ⚠ `delete` t:m:R **old**\n\n```diff\n- a: 1\n```" in text


def test_body_caps_each_resource_and_points_to_the_preview_log_for_the_rest():
    changes = [_change(f"k{i:02}", "update", str(i), str(i + 1)) for i in range(BODY_CHANGES_PER_RESOURCE + 3)]
    plan = {"changes": {"update": 1},
            "steps": [{"op": "update", "type": "t:m:R", "name": "big", "diff": changes, "diff_omitted": 40}]}
    text = _render(approval_body("storage_preview"), plan, {"stack": "prod", "project": "storage"})
    assert f"+ k{BODY_CHANGES_PER_RESOURCE - 1:02}: {BODY_CHANGES_PER_RESOURCE}\n```" in text
    assert f"k{BODY_CHANGES_PER_RESOURCE:02}" not in text
    assert ("_43 more changes: the full diff is in the log of task `storage_preview` and on [its page in the "
            "Pulumi view](/pulumi/ti/deploy/manual__2026-12-06T10%3A00%3A00%2B00%3A00/storage_preview/-1)._") in text
    # The page the Pulumi view serves for that task instance (its route builds paths the same way).
    assert f"({task_path('deploy', 'manual__2026-12-06T10:00:00+00:00', 'storage_preview')})" in text


def test_body_links_below_the_api_servers_base_url(monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/ops/")
    changes = [_change(f"k{i:02}", "update", str(i), str(i + 1)) for i in range(BODY_CHANGES_PER_RESOURCE + 1)]
    plan = {"changes": {"update": 1}, "steps": [{"op": "update", "type": "t:m:R", "name": "big", "diff": changes}]}
    text = _render(approval_body("storage_preview"), plan, {"stack": "prod", "project": "storage"})
    assert "_1 more changes" in text and "(https://airflow.example.com/ops/pulumi/ti/deploy/" in text


def test_a_fence_inside_a_value_cannot_end_the_diff_block():
    plan = {"changes": {"update": 1}, "steps": [{"op": "update", "type": "t:m:R", "name": "x",
                                                  "diff": [_change("doc", "update", '"a"', '"```\\n# injected"')]}]}
    text = _render(approval_body("storage_preview"), plan, {"stack": "prod", "project": "storage"})
    assert text.count("```") == 2


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
