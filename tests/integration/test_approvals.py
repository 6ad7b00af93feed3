"""Approval gates on real DAG runs: preview → Airflow HITL approval → up, approved and rejected."""

from __future__ import annotations

import json

import pytest

from airflow_pulumi_decorators.testing.hitl import respond_in_background

pytestmark = pytest.mark.integration


def _resources(backend):
    path = backend / ".pulumi" / "stacks" / "gated" / "prod.json"
    if not path.exists():
        return []
    state = json.loads(path.read_text())
    return [r["urn"].rsplit("::", 1)[-1] for r in state["checkpoint"]["latest"].get("resources", [])
            if not r["type"].startswith("pulumi:providers:")]  # default providers: every engine records them


def test_approved_plan_is_applied(run_dag_file):
    responder = respond_in_background("t_gate_ok", "gated_approval", "Approve")
    result = run_dag_file("approval_gate", dag_id="t_gate_ok")
    responder.join(5)
    assert result.state == "success", result.output[-3000:]
    assert result.task_states == {"gated_preview": "success", "gated_approval": "success", "gated": "success"}
    assert result.xcom("gated_preview")["changes"] == {"create": 2}
    assert sorted(_resources(result.backend)) == ["gated-prod", "pet"]
    body = result.rendered["gated_approval"]["body"]
    assert "Planned changes on stack `prod`" in body and "`create` random:index/randomPet:RandomPet **pet**" in body
    assert "- **create**: 2" in body


def test_rejected_plan_is_not_applied(run_dag_file):
    responder = respond_in_background("t_gate_no", "gated_approval", "Reject")
    result = run_dag_file("approval_gate", dag_id="t_gate_no")
    responder.join(5)
    assert result.task_states["gated_approval"] == "success"
    assert result.task_states["gated"] == "skipped"
    assert _resources(result.backend) == []  # the preview wrote nothing, the up never ran
