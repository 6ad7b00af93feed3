"""Operations beyond ``up`` on real DAG runs (``dag.test()``) with the in-process stand-in engine:
preview, refresh, destroy, drift checks, protected environments, setup/teardown pairs, per-run stacks,
the summary XCom, asset events and policy packs.
"""

from __future__ import annotations

import json

import pytest

from tests.dagrun import all_text_under

pytestmark = pytest.mark.integration

HEADER = """
import pendulum
import pulumi
from airflow.sdk import dag, task
from airflow_pulumi_decorators import Environment, pulumi_stack
from airflow_pulumi_decorators.testing import StandinCommand

ENGINE = StandinCommand()
START = pendulum.datetime(2026, 1, 1)
"""

PETS = """
@pulumi_stack(project="pets", stack="dev", pulumi_command=ENGINE)
def pets(count: int):
    import pulumi_random as random
    made = [random.RandomPet(f"p{i}", length=2) for i in range(count)]
    return {"count": len(made)}
"""


UP_TWO_PETS = HEADER + PETS + """
@dag(dag_id="{dag_id}", schedule=None, start_date=START)
def d():
    pets(count=2)
the_dag = d()
"""


def _stack_file(backend, project="pets", stack="dev"):
    return backend / ".pulumi" / "stacks" / project / f"{stack}.json"


def _resources(backend, project="pets", stack="dev"):
    state = json.loads(_stack_file(backend, project, stack).read_text())
    return [r["urn"].rsplit("::", 1)[-1] for r in state["checkpoint"]["latest"].get("resources", [])]


def test_preview_returns_planned_changes_and_changes_nothing(run_dag):
    result = run_dag(HEADER + PETS + """
@dag(dag_id="{dag_id}", schedule=None, start_date=START)
def d():
    pets.preview(count=2)
the_dag = d()
""")
    assert result.state == "success", result.output[-3000:]
    planned = result.xcom("pets_preview")
    assert planned["changes"] == {"create": 3}
    assert planned["has_changes"] is True
    assert sorted(s["name"] for s in planned["steps"]) == ["p0", "p1", "pets-dev"]
    assert {s["op"] for s in planned["steps"]} == {"create"}
    summary = result.xcom("pets_preview", "pulumi_summary")
    assert summary["operation"] == "preview" and summary["version"] is None
    # A preview creates the stack (like `pulumi preview` on a new stack) but writes no resources or history.
    assert _resources(result.backend) == []
    assert not list((result.backend / ".pulumi" / "history").rglob("*.json"))


def test_up_refresh_destroy_and_remove_on_one_program(run_dag):
    result = run_dag(HEADER + PETS + """
@dag(dag_id="{dag_id}", schedule=None, start_date=START)
def d():
    up = pets(count=2)
    refreshed = pets.refresh(count=2)
    gone = pets.override(remove_stack=True).destroy(count=2)
    up >> refreshed >> gone
the_dag = d()
""")
    assert result.state == "success", result.output[-3000:]
    assert result.xcom("pets") == {"count": 2}
    assert result.xcom("pets_refresh")["changes"] == {"same": 3}
    assert result.xcom("pets_refresh")["has_changes"] is False
    destroyed = result.xcom("pets_destroy")
    assert destroyed["changes"] == {"delete": 3} and destroyed["stack_removed"] is True
    assert not _stack_file(result.backend).exists()
    summaries = {t: result.xcom(t, "pulumi_summary") for t in ("pets", "pets_refresh", "pets_destroy")}
    assert [s["operation"] for s in summaries.values()] == ["up", "refresh", "destroy"]
    assert summaries["pets"]["version"] == 1 and summaries["pets_refresh"]["version"] == 2


def test_destroy_keeps_the_stack_unless_asked(run_dag):
    result = run_dag(HEADER + PETS + """
@dag(dag_id="{dag_id}", schedule=None, start_date=START)
def d():
    pets(count=1) >> pets.destroy(count=1)
the_dag = d()
""")
    assert result.state == "success", result.output[-3000:]
    assert _stack_file(result.backend).exists() and _resources(result.backend) == []


def test_refresh_of_a_missing_stack_fails_clearly(run_dag):
    result = run_dag(HEADER + PETS + """
@dag(dag_id="{dag_id}", schedule=None, start_date=START)
def d():
    pets.refresh(count=1)
the_dag = d()
""")
    assert result.task_states["pets_refresh"] == "failed"
    assert "StackNotFoundError" in result.output and "'dev' does not exist" in result.output


DRIFT = HEADER + PETS + """
@dag(dag_id="{dag_id}", schedule=None, start_date=START, params={"count": 2})
def d():
    pets.drift_check(count="{{ params.count }}")
the_dag = d()
"""


def test_drift_check_passes_when_code_state_and_cloud_agree(run_dag, monkeypatch):
    first = run_dag(UP_TWO_PETS)
    assert first.state == "success", first.output[-3000:]
    result = run_dag(DRIFT.replace('count="{{ params.count }}"', "count=2"))
    assert result.state == "success", result.output[-3000:]
    assert result.xcom("pets_drift_check")["has_changes"] is False


def test_drift_check_fails_on_cloud_drift_and_on_code_drift(run_dag, monkeypatch):
    up = run_dag(UP_TWO_PETS)
    assert up.state == "success", up.output[-3000:]
    # Someone changed p1 in the cloud: the refresh inside the check sees it.
    monkeypatch.setenv("PULUMI_STANDIN_DRIFT", "p1")
    cloud = run_dag(DRIFT.replace('count="{{ params.count }}"', "count=2"))
    assert cloud.task_states["pets_drift_check"] == "failed"
    assert "DriftDetectedError" in cloud.output and "has drifted" in cloud.output
    assert "update random:index/randomPet:RandomPet p1" in cloud.output, cloud.output[-3000:]
    monkeypatch.delenv("PULUMI_STANDIN_DRIFT")
    # The code asks for 3 pets, the stack has 2: drift the other way.
    code = run_dag(DRIFT.replace('count="{{ params.count }}"', "count=3"))
    assert code.task_states["pets_drift_check"] == "failed"
    assert "create=1" in code.output and "p2" in code.output
    assert _resources(code.backend).count("p2") == 0  # the check changed nothing


def test_refresh_preview_only_reports_drift_without_writing(run_dag, monkeypatch):
    up = run_dag(HEADER + PETS + """
@dag(dag_id="{dag_id}", schedule=None, start_date=START)
def d():
    pets(count=1)
the_dag = d()
""")
    assert up.state == "success", up.output[-3000:]
    history_before = len(list((up.backend / ".pulumi" / "history").rglob("*.json")))
    monkeypatch.setenv("PULUMI_STANDIN_DRIFT", "p0")
    result = run_dag(HEADER + PETS + """
@dag(dag_id="{dag_id}", schedule=None, start_date=START)
def d():
    pets.override(preview_only=True).refresh(count=1)
the_dag = d()
""")
    assert result.state == "success", result.output[-3000:]
    assert result.xcom("pets_refresh")["changes"].get("update") == 1
    assert result.xcom("pets_refresh")["has_changes"] is True
    assert len(list((up.backend / ".pulumi" / "history").rglob("*.json"))) == history_before


PROTECTED_ENVS = """
ENVS = {
    "dev": Environment(stack="dev"),
    "prod": Environment(stack="prod", protected=True),
}
"""


def test_destroy_of_a_protected_environment_is_refused_at_run_time(run_dag):
    result = run_dag(HEADER + PROTECTED_ENVS + """
@dag(dag_id="{dag_id}", schedule=None, start_date=START, params={"env": "prod"})
def d():
    @pulumi_stack(project="pets", environments=ENVS, environment="{{ params.env }}", pulumi_command=ENGINE)
    def pets():
        import pulumi_random as random
        return {"id": random.RandomPet("p").id}
    pets() >> pets.destroy()
the_dag = d()
""")
    assert result.task_states["pets"] == "success"
    assert result.task_states["pets_destroy"] == "failed"
    assert "ProtectedStackError" in result.output
    assert "refusing to destroy stack 'prod': environment 'prod' is protected" in result.output
    assert "allow_destroy_protected=True" in result.output
    assert _resources(result.backend, stack="prod") == ["pets-prod", "p"]


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


def test_destroy_of_a_protected_environment_runs_when_allowed(run_dag):
    result = run_dag(HEADER + PROTECTED_ENVS + """
@dag(dag_id="{dag_id}", schedule=None, start_date=START, params={"env": "prod"})
def d():
    @pulumi_stack(project="pets", environments=ENVS, environment="{{ params.env }}", pulumi_command=ENGINE)
    def pets():
        import pulumi_random as random
        return {"id": random.RandomPet("p").id}
    pets() >> pets.override(allow_destroy_protected=True, remove_stack=True).destroy()
the_dag = d()
""")
    assert result.state == "success", result.output[-3000:]
    assert not _stack_file(result.backend, stack="prod").exists()


EPHEMERAL = HEADER + """
@dag(dag_id="{dag_id}", schedule=None, start_date=START, params={"branch": "feature/Login+SSO", "fail": False})
def d():
    @pulumi_stack(project="preview-env", stack="pr-{{ params.branch | stack_name }}", pulumi_command=ENGINE)
    def cluster(size: int):
        import pulumi_random as random
        name = random.RandomPet("cluster", length=2)
        return {"cluster": name.id, "size": size}

    @task
    def work(cluster: str, params=None):
        if params["fail"]:
            raise RuntimeError("the work failed")
        return cluster

    with cluster.ephemeral(size=3) as infra:
        work(infra["cluster"])
the_dag = d()
"""


@pytest.mark.parametrize("fail", [False, True])
def test_ephemeral_stack_is_torn_down_and_removed_even_when_the_work_fails(run_dag, fail):
    result = run_dag(EPHEMERAL, run_conf={"branch": "feature/Login+SSO", "fail": fail})
    assert result.task_states["cluster"] == "success", result.output[-3000:]
    assert result.task_states["work"] == ("failed" if fail else "success")
    assert result.task_states["cluster_teardown"] == "success", result.output[-3000:]
    assert result.state == ("failed" if fail else "success")
    assert result.rendered["cluster"]["stack"] == "pr-feature-Login-SSO"
    stacks = result.backend / ".pulumi" / "stacks" / "preview-env"
    assert not list(stacks.glob("*.json")), "the per-run stack was not removed"
    teardown = result.xcom("cluster_teardown")
    assert teardown["stack_removed"] is True and teardown["changes"] == {"delete": 2}
    if not fail:
        assert result.xcom("work") == result.xcom("cluster", "cluster")


def test_per_run_stacks_from_the_run_id_do_not_collide(run_dag):
    source = HEADER + """
@dag(dag_id="{dag_id}", schedule=None, start_date=START)
def d():
    @pulumi_stack(project="per-run", stack="{{ run_id | stack_name }}", pulumi_command=ENGINE)
    def scratch():
        return {"stack": pulumi.get_stack()}
    scratch()
the_dag = d()
"""
    first = run_dag(source, dag_id="t_per_run")
    second = run_dag(source, dag_id="t_per_run")
    assert first.state == second.state == "success", first.output[-2000:] + second.output[-2000:]
    a, b = first.xcom("scratch", "stack"), second.xcom("scratch", "stack")
    assert a != b and a.startswith("manual__") and ":" not in a and "+" not in a
    assert len(list((first.backend / ".pulumi" / "stacks" / "per-run").glob("*.json"))) == 2  # one per run


def test_summary_xcom_audit_message_and_structured_log_line(run_dag):
    result = run_dag(HEADER + PETS + """
@dag(dag_id="{dag_id}", schedule=None, start_date=START)
def d():
    pets(count=1)
the_dag = d()
""")
    assert result.state == "success", result.output[-3000:]
    summary = result.xcom("pets", "pulumi_summary")
    assert summary["operation"] == "up" and summary["stack"] == "dev" and summary["project"] == "pets"
    assert summary["changes"] == {"create": 2} and summary["version"] == 1 and summary["has_changes"] is True
    assert summary["backend"].startswith("file://") and summary["duration_s"] > 0
    message = summary["message"]
    for part in ("dag_id=t_", "run_id=manual__", "task_id=pets", "try=1", "operation=up", "identity=worker-default"):
        assert part in message
    history = all_text_under(result.backend / ".pulumi" / "history")
    assert message in history
    line = next(line for line in result.output.splitlines() if "pulumi summary: {" in line)
    logged = json.loads(line.split("pulumi summary: ", 1)[1].strip().rstrip("'\"").split(" [")[0])
    assert logged["operation"] == "up" and logged["changes"] == {"create": 2}


def test_each_successful_up_emits_a_stack_asset_event_without_values(run_dag):
    secret = "asset-secret-value-71ac"
    result = run_dag(HEADER + f"""
@dag(dag_id="{{dag_id}}", schedule=None, start_date=START)
def d():
    @pulumi_stack(project="network", stack="prod", pulumi_command=ENGINE)
    def network():
        return {{"vpc": "vpc-1", "token": pulumi.Output.secret("{secret}")}}
    network() >> network.preview()
the_dag = d()
""", dag_id="t_asset_events")
    assert result.state == "success", result.output[-3000:]
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        asset = session.query(AssetModel).filter(AssetModel.uri == "pulumi://network/prod").one()
        events = [
            (asset.uri, e.extra, e.source_task_id)
            for e in session.query(AssetEvent).filter(AssetEvent.asset_id == asset.id)
            if e.source_dag_id == "t_asset_events"
        ]
    assert len(events) == 1, events  # the up, not the preview
    uri, extra, task_id = events[0]
    assert task_id == "network"
    assert extra["output_keys"] == ["token", "vpc"] and extra["secret_output_keys"] == ["token"]
    assert extra["version"] == 1 and extra["changes"] == {"create": 1}
    assert secret not in json.dumps(extra)


def test_policy_packs_reach_the_engine_and_a_violation_fails_with_the_list(run_dag, tmp_path):
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
    source = HEADER + f"""
@dag(dag_id="{{dag_id}}", schedule=None, start_date=START, params={{"length": 2}})
def d():
    @pulumi_stack(project="guarded", stack="dev", pulumi_command=ENGINE,
                  policy_packs=["{pack}"], policy_pack_configs=["{config}"])
    def guarded(params=None):
        import pulumi_random as random
        return {{"id": random.RandomPet("pet", length=params["length"]).id}}
    guarded()
the_dag = d()
"""
    ok = run_dag(source, run_conf={"length": 2})
    assert ok.state == "success", ok.output[-3000:]
    assert ok.xcom("guarded", "pulumi_summary")["policy_violations"][0]["policy"] == "pets-have-prefix"
    bad = run_dag(source, run_conf={"length": 3})
    assert bad.task_states["guarded"] == "failed"
    assert "PolicyViolationError" in bad.output
    assert "refused by policy (1 mandatory violation(s))" in bad.output
    assert "pet-guard/no-long-pets: pets must have at most 2 words (pet)" in bad.output
    from airflow_pulumi_decorators.testing.standin import read_journal

    ups = [r for r in read_journal(str(bad.backend / ".pulumi" / "standin-journal.jsonl")) if "up" in r["argv"]]
    assert all(str(pack) in r["argv"] and str(config) in r["argv"] for r in ups)
    assert "--policy-pack-config" in ups[-1]["argv"]
