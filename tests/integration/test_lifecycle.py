"""Operations beyond ``up`` on real DAG runs (``dag.test()``) with the in-process stand-in engine, where
they use its own features (simulated drift, ``standin-policy.json`` packs): drift checks, protected
environments, per-run stacks and policy packs. The scenarios every engine must pass are in
``test_scenarios.py``.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration

def _stack_file(backend, project="pets", stack="dev"):
    return backend / ".pulumi" / "stacks" / project / f"{stack}.json"


def _resources(backend, project="pets", stack="dev"):
    state = json.loads(_stack_file(backend, project, stack).read_text())
    return [r["urn"].rsplit("::", 1)[-1] for r in state["checkpoint"]["latest"].get("resources", [])]


def test_drift_check_passes_when_code_state_and_cloud_agree(run_dag_file, monkeypatch):
    first = run_dag_file("pets", count=2)
    assert first.state == "success", first.output[-3000:]
    result = run_dag_file("pets", operation="drift_check", count=2)
    assert result.state == "success", result.output[-3000:]
    assert result.xcom("pets_drift_check")["has_changes"] is False


def test_drift_check_fails_on_cloud_drift_and_on_code_drift(run_dag_file, monkeypatch):
    up = run_dag_file("pets", count=2)
    assert up.state == "success", up.output[-3000:]
    # Someone changed p1 in the cloud: the refresh inside the check sees it.
    monkeypatch.setenv("PULUMI_STANDIN_DRIFT", "p1")
    cloud = run_dag_file("pets", operation="drift_check", count=2)
    assert cloud.task_states["pets_drift_check"] == "failed"
    assert "DriftDetectedError" in cloud.output and "has drifted" in cloud.output
    assert "update random:index/randomPet:RandomPet p1" in cloud.output, cloud.output[-3000:]
    monkeypatch.delenv("PULUMI_STANDIN_DRIFT")
    # The code asks for 3 pets, the stack has 2: drift the other way.
    code = run_dag_file("pets", operation="drift_check", count=3)
    assert code.task_states["pets_drift_check"] == "failed"
    assert "create=1" in code.output and "p2" in code.output
    assert _resources(code.backend).count("p2") == 0  # the check changed nothing


def test_refresh_preview_only_reports_drift_without_writing(run_dag_file, monkeypatch):
    up = run_dag_file("pets", count=1)
    assert up.state == "success", up.output[-3000:]
    history_before = len(list((up.backend / ".pulumi" / "history").rglob("*.json")))
    monkeypatch.setenv("PULUMI_STANDIN_DRIFT", "p0")
    result = run_dag_file("pets", operation="refresh_preview_only", count=1)
    assert result.state == "success", result.output[-3000:]
    assert result.xcom("pets_refresh")["changes"].get("update") == 1
    assert result.xcom("pets_refresh")["has_changes"] is True
    assert len(list((up.backend / ".pulumi" / "history").rglob("*.json"))) == history_before


def test_destroy_of_a_protected_environment_is_refused_at_parse_time():
    from airflow_pulumi_decorators import Environment
    from airflow_pulumi_decorators.errors import ProtectedStackError
    from airflow_pulumi_decorators.operator import PulumiStackOperator

    envs = {"prod": Environment(stack="prod", protected=True)}
    with pytest.raises(ProtectedStackError, match="allow_destroy_protected=True"):
        PulumiStackOperator(task_id="t", program=lambda: None, project="p", environments=envs, operation="destroy")
    op = PulumiStackOperator(
        task_id="t", program=lambda: None, project="p", environments=envs, operation="destroy",
        allow_destroy_protected=True, remove_stack=True,
    )
    assert op.options.remove_stack


def test_destroy_of_a_protected_environment_runs_when_allowed(run_dag_file):
    result = run_dag_file("protected_destroy_allowed")
    assert result.state == "success", result.output[-3000:]
    assert not _stack_file(result.backend, stack="prod").exists()


def test_per_run_stacks_from_the_run_id_do_not_collide(run_dag_file):
    first = run_dag_file("per_run_stack", dag_id="t_per_run")
    second = run_dag_file("per_run_stack", dag_id="t_per_run")
    assert first.state == second.state == "success", first.output[-2000:] + second.output[-2000:]
    a, b = first.xcom("scratch", "stack"), second.xcom("scratch", "stack")
    assert a != b and a.startswith("manual__") and ":" not in a and "+" not in a
    assert len(list((first.backend / ".pulumi" / "stacks" / "per-run").glob("*.json"))) == 2  # one per run


def test_policy_packs_reach_the_engine_and_a_violation_fails_with_the_list(run_dag_file, tmp_path):
    pack = tmp_path / "guard"
    pack.mkdir()
    (pack / "standin-policy.json").write_text(json.dumps({
        "name": "pet-guard",
        "policies": [
            {"name": "no-long-pets", "type": "random:index/randomPet:RandomPet", "when": {"length": 3},
             "level": "mandatory", "message": "pets must have at most 2 words"},
            {"name": "pets-have-prefix", "type": "random:index/randomPet:RandomPet", "level": "advisory",
             "message": "give pets a prefix"},
        ],
    }))
    config = tmp_path / "guard-config.json"
    config.write_text(json.dumps({"pets-have-prefix": {"enforcementLevel": "advisory"}}))
    ok = run_dag_file("policy_packs", run_conf={"length": 2}, pack=str(pack), config=str(config))
    assert ok.state == "success", ok.output[-3000:]
    assert ok.xcom("guarded", "pulumi_summary")["policy_violations"][0]["policy"] == "pets-have-prefix"
    bad = run_dag_file("policy_packs", run_conf={"length": 3}, pack=str(pack), config=str(config))
    assert bad.task_states["guarded"] == "failed"
    assert "PolicyViolationError" in bad.output
    assert "refused by policy (1 mandatory violation(s))" in bad.output
    assert "pet-guard/no-long-pets: pets must have at most 2 words (pet)" in bad.output
    from airflow_pulumi_decorators.testing.standin import read_journal

    ups = [r for r in read_journal(str(bad.backend / ".pulumi" / "standin-journal.jsonl")) if "up" in r["argv"]]
    assert all(str(pack) in r["argv"] and str(config) in r["argv"] for r in ups)
    assert "--policy-pack-config" in ups[-1]["argv"]
