"""The user scenarios, each run on every engine: the in-process stand-in, the ``pulumi-standin`` executable
and the real ``pulumi`` CLI (the ``engine`` fixture of ``tests/engines.py``).

The programs use :mod:`airflow_pulumi_decorators.testing.resources` (Python dynamic providers): real
create/update/delete side effects on local files and provider-computed outputs, with no cloud and no
plugin download, so the real engine runs them exactly as the stand-in does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_pulumi_decorators.outputs import is_withheld_output
from tests.dagrun import all_text_under

pytestmark = pytest.mark.integration

def state(backend: Path, project: str, stack: str = "dev") -> dict:
    return json.loads((backend / ".pulumi" / "stacks" / project / f"{stack}.json").read_text())


def resource_names(backend: Path, project: str, stack: str = "dev") -> list[str]:
    """Names of the program's resources in the state (default provider resources left out: only a
    real engine records them)."""
    resources = state(backend, project, stack)["checkpoint"]["latest"].get("resources") or []
    return [r["urn"].rsplit("::", 1)[-1] for r in resources if not r["type"].startswith("pulumi:providers:")]


def history(backend: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((backend / ".pulumi" / "history").rglob("*.history.json"))]


def test_provider_computed_outputs_flow_to_a_downstream_task(run_dag_file, engine):
    result = run_dag_file("computed_names", engine=engine)
    assert result.state == "success", result.output[-3000:]
    loaded = result.xcom("load")
    assert loaded == {"dataset": "raw_grove_tundra", "prefix": "raw"}  # the same on every engine
    assert result.xcom("names", "id") == "raw_grove_tundra"


def test_two_stacks_chain_through_xcom(run_dag_file, engine, tmp_path):
    folder = tmp_path / "cluster"
    result = run_dag_file("two_stacks", engine=engine, folder=str(folder))
    assert result.state == "success", result.output[-3000:]
    network = result.xcom("network", "network")
    assert network == "net-lumen-maple"
    assert result.xcom("use") == f"{network} 10.0.0.0/16|{network}"
    assert len(result.xcom("cluster", "sha256")) == 64  # computed by the provider, not an input
    assert resource_names(result.backend, "network") == ["network-dev", "vpc"]
    assert resource_names(result.backend, "cluster") == ["cluster-dev", "conf"]


def test_a_stack_reads_another_stacks_outputs_through_a_stack_reference(run_dag_file, engine):
    token = "s3cr3t-ref-token-5e1f"
    result = run_dag_file("stack_reference", engine=engine, token=token)
    assert result.state == "success", result.output[-3000:]
    network = result.xcom("network", "network")
    assert network == "net-lumen-maple"
    # The plain output arrives as it is; the secret one stays secret across stacks (withheld again).
    cluster = result.xcom("cluster")
    assert cluster["network"] == network and cluster["token_matches"] is True
    assert is_withheld_output(cluster["token"]) and cluster["token"]["stack"] == "dev"
    assert "secret outputs withheld from XCom: token" in result.output
    assert token not in result.output + json.dumps(result.xcoms) + all_text_under(result.backend)


def test_environment_is_chosen_by_a_dag_param(run_dag_file, engine):
    result = run_dag_file("environment_by_param", engine=engine, run_conf={"env": "prod"})
    assert result.state == "success", result.output[-3000:]
    assert result.xcom("infra") == {"tier": "large", "project": "acme-prod", "stack": "prod"}
    stacks = result.backend / ".pulumi" / "stacks" / "envs"
    assert (stacks / "prod.json").exists() and not (stacks / "dev.json").exists()


SECRET_VALUES = dict(secret="s3cr3t-output-9d2e71", secret_cfg="s3cr3t-config-4b1a55", secret_file="s3cr3t-file-c0d7",
                     nested="s3cr3t-nested-77a0", listed="s3cr3t-listed-51ce")


def test_secret_outputs_and_config_are_withheld_and_never_stored_in_plain_text(run_dag_file, engine, tmp_path):
    result = run_dag_file("secret_outputs", engine=engine, push=False, folder=str(tmp_path), secrets=SECRET_VALUES)
    assert result.state == "success", result.output[-3000:]
    # A secret anywhere inside an output (dict, list, a resource's property) withholds the whole output.
    infra = result.xcom("infra")
    withheld = {key: value["output"] for key, value in infra.items() if is_withheld_output(value)}
    assert withheld == {k: k for k in ("token", "password", "key", "db", "hosts", "file")}
    assert infra["plain"] == "visible"
    assert result.xcom("consume") == [True, True, "visible"]
    assert "secret outputs withheld from XCom: db, file, hosts, key, password, token" in result.output
    assert (tmp_path / "key.txt").read_text() == SECRET_VALUES["secret_file"]  # the provider got the plain value
    everything = result.output + json.dumps(result.xcoms) + json.dumps(result.rendered, default=str)
    everything += all_text_under(result.backend)
    for value in SECRET_VALUES.values():
        assert value not in everything


def test_pushed_secret_outputs_reach_xcom_and_are_masked_in_the_log_at_any_depth(run_dag_file, engine, tmp_path):
    result = run_dag_file("secret_outputs", engine=engine, push=True, folder=str(tmp_path), secrets=SECRET_VALUES)
    assert result.state == "success", result.output[-3000:]
    out = result.xcom("infra")
    assert out["db"] == {"host": "db.internal", "password": SECRET_VALUES["nested"]}
    assert out["hosts"] == ["a", SECRET_VALUES["listed"]]
    assert out["file"]["content"] == SECRET_VALUES["secret_file"]
    assert result.xcom("consume") == [False, ["host", "password"], "visible"]
    for value in SECRET_VALUES.values():
        assert value not in result.output  # masked wherever a task printed it
        assert value not in all_text_under(result.backend)


def test_program_that_raises_fails_with_its_error_and_leaves_no_lock(run_dag_file, engine):
    result = run_dag_file("raising_program", engine=engine)
    assert result.task_states["infra"] == "failed"
    assert "ProgramError" in result.output
    assert "cidr overlaps 10.1.0.0/16" in result.output
    assert "in compute_cidr" in result.output  # the user's traceback
    assert not list((result.backend / ".pulumi").rglob("locks/**/*.json")), "stack left locked"


def test_second_up_is_a_no_op_and_a_removed_resource_is_deleted(run_dag_file, engine, tmp_path):
    folder = tmp_path / "files"
    files = dict(engine=engine, folder=str(folder), count="{{ params.count }}", dag_params={"count": 2})
    first = run_dag_file("local_files", dag_id="t_changes", **files)
    assert first.state == "success", first.output[-3000:]
    assert "changes: create=3" in first.output  # two files and the stack resource
    assert sorted(p.name for p in folder.iterdir()) == ["f0.txt", "f1.txt"]
    second = run_dag_file("local_files", dag_id="t_changes", **files)
    assert second.state == "success", second.output[-3000:]
    assert "changes: same=3" in second.output
    third = run_dag_file("local_files", run_conf={"count": 1}, dag_id="t_changes", **files)
    assert third.state == "success", third.output[-3000:]
    assert "changes: delete=1, same=2" in third.output
    assert sorted(p.name for p in folder.iterdir()) == ["f0.txt"]  # really deleted
    assert resource_names(third.backend, "files") == ["files-dev", "f0"]


def test_preview_plans_and_changes_nothing(run_dag_file, engine, tmp_path):
    folder = tmp_path / "files"
    result = run_dag_file("local_files", engine=engine, folder=str(folder), count=2, steps=["preview"])
    assert result.state == "success", result.output[-3000:]
    planned = result.xcom("files_preview")
    assert planned["changes"] == {"create": 3} and planned["has_changes"] is True
    assert sorted(s["name"] for s in planned["steps"]) == ["f0", "f1", "files-dev"]
    assert result.xcom("files_preview", "pulumi_summary")["version"] is None
    assert not folder.exists()  # nothing was created
    assert resource_names(result.backend, "files") == []
    assert history(result.backend) == []


def test_up_refresh_destroy_and_remove_on_one_program(run_dag_file, engine, tmp_path):
    folder = tmp_path / "files"
    result = run_dag_file("local_files", engine=engine, folder=str(folder), count=2,
                          steps=["up", "refresh", "destroy_remove"])
    assert result.state == "success", result.output[-3000:]
    assert result.xcom("files") == {"count": 2}
    assert result.xcom("files_refresh")["changes"] == {"same": 3}
    destroyed = result.xcom("files_destroy")
    assert destroyed["changes"] == {"delete": 3} and destroyed["stack_removed"] is True
    assert not list(folder.iterdir())  # the files are gone with the resources
    assert not (result.backend / ".pulumi" / "stacks" / "files" / "dev.json").exists()
    summaries = [result.xcom(t, "pulumi_summary") for t in ("files", "files_refresh", "files_destroy")]
    assert [s["operation"] for s in summaries] == ["up", "refresh", "destroy"]
    assert [s["version"] for s in summaries] == [None, None, None]  # file backends number no updates


def test_destroy_keeps_the_stack_unless_asked(run_dag_file, engine, tmp_path):
    folder = tmp_path / "files"
    result = run_dag_file("local_files", engine=engine, folder=str(folder), count=1, steps=["up", "destroy"])
    assert result.state == "success", result.output[-3000:]
    assert resource_names(result.backend, "files") == [] and not list(folder.iterdir())


def test_refresh_of_a_missing_stack_fails_clearly(run_dag_file, engine, tmp_path):
    result = run_dag_file("local_files", engine=engine, folder=str(tmp_path), count=1, steps=["refresh"])
    assert result.task_states["files_refresh"] == "failed"
    assert "StackNotFoundError" in result.output and "'dev' does not exist" in result.output


def test_destroy_of_a_protected_environment_is_refused(run_dag_file, engine, tmp_path):
    result = run_dag_file("protected_destroy_refused", engine=engine, folder=str(tmp_path))
    assert result.task_states["guarded"] == "success", result.output[-3000:]
    assert result.task_states["guarded_destroy"] == "failed"
    assert "ProtectedStackError" in result.output and "allow_destroy_protected=True" in result.output
    assert (tmp_path / "keep.txt").exists()
    assert resource_names(result.backend, "guarded", "prod") == ["guarded-prod", "f"]


@pytest.mark.parametrize("fail", [False, True])
def test_ephemeral_stack_is_torn_down_and_removed_even_when_the_work_fails(run_dag_file, engine, tmp_path, fail):
    result = run_dag_file("ephemeral_stack", engine=engine, run_conf={"branch": "feature/Login+SSO", "fail": fail},
                          folder=str(tmp_path))
    assert result.task_states["cluster"] == "success", result.output[-3000:]
    assert result.task_states["work"] == ("failed" if fail else "success")
    assert result.task_states["cluster_teardown"] == "success", result.output[-3000:]
    assert result.state == ("failed" if fail else "success")
    assert result.rendered["cluster"]["stack"] == "pr-feature-Login-SSO"
    assert not list((result.backend / ".pulumi" / "stacks" / "preview-env").glob("*.json"))
    teardown = result.xcom("cluster_teardown")
    assert teardown["stack_removed"] is True and teardown["changes"] == {"delete": 2}
    assert not (tmp_path / "cluster.conf").exists()
    if not fail:
        assert result.xcom("work") == "size=3"


def test_drift_check_fails_on_real_drift_in_the_cloud_and_in_the_code(run_dag_file, engine, tmp_path):
    folder = tmp_path / "files"
    up = run_dag_file("local_files", engine=engine, folder=str(folder), count=2)
    assert up.state == "success", up.output[-3000:]
    clean = run_dag_file("local_files", engine=engine, folder=str(folder), count=2, steps=["drift_check"])
    assert clean.state == "success", clean.output[-3000:]
    assert clean.xcom("files_drift_check")["has_changes"] is False
    # Someone edits f1 outside Pulumi: the refresh inside the check reads it back.
    (folder / "f1.txt").write_text("edited by hand")
    cloud = run_dag_file("local_files", engine=engine, folder=str(folder), count=2, steps=["drift_check"])
    assert cloud.task_states["files_drift_check"] == "failed"
    assert "DriftDetectedError" in cloud.output and "has drifted" in cloud.output
    assert "update pulumi-python:dynamic/apd:LocalFile f1" in cloud.output, cloud.output[-3000:]
    assert (folder / "f1.txt").read_text() == "edited by hand"  # the check changed nothing
    # The code asks for 3 files, the stack has 2: drift the other way.
    code = run_dag_file("local_files", engine=engine, folder=str(folder), count=3, steps=["drift_check"])
    assert code.task_states["files_drift_check"] == "failed"
    assert "create=1" in code.output and "f2" in code.output
    assert not (folder / "f2.txt").exists()
    # An up brings the cloud back to the code.
    fixed = run_dag_file("local_files", engine=engine, folder=str(folder), count=2, steps=["up_refresh"])
    assert fixed.state == "success", fixed.output[-3000:]
    assert (folder / "f1.txt").read_text() == "file 1"


def test_refresh_preview_only_reports_drift_without_writing(run_dag_file, engine, tmp_path):
    folder = tmp_path / "files"
    up = run_dag_file("local_files", engine=engine, folder=str(folder), count=1)
    assert up.state == "success", up.output[-3000:]
    before = len(history(up.backend))
    (folder / "f0.txt").write_text("edited by hand")
    result = run_dag_file("local_files", engine=engine, folder=str(folder), count=1,
                          steps=["refresh_preview_only"])
    assert result.state == "success", result.output[-3000:]
    assert result.xcom("files_refresh")["changes"].get("update") == 1
    assert result.xcom("files_refresh")["has_changes"] is True
    assert len(history(result.backend)) == before


def test_update_message_history_summary_and_log_line(run_dag_file, engine, tmp_path):
    result = run_dag_file("local_files", engine=engine, folder=str(tmp_path / "files"), count=1)
    assert result.state == "success", result.output[-3000:]
    summary = result.xcom("files", "pulumi_summary")
    assert summary["operation"] == "up" and summary["stack"] == "dev" and summary["project"] == "files"
    assert summary["changes"] == {"create": 2} and summary["version"] is None and summary["has_changes"] is True
    message = summary["message"]
    for part in ("dag_id=t_", "run_id=manual__", "task_id=files", "try=1", "operation=up", "identity=worker-default"):
        assert part in message
    entries = history(result.backend)
    assert len(entries) == 1 and entries[0]["message"] == message and entries[0]["result"] == "succeeded"
    assert entries[0]["environment"]["exec.kind"] == "auto.inline"
    lines = result.output.splitlines()
    start = next(i for i, line in enumerate(lines) if "pulumi summary: up on stack dev" in line)
    fields = dict(line.split(": ", 1) for line in lines[start + 1:start + 14])
    assert fields["  operation"] == '"up"' and fields["  changes"] == '{"create": 2}'
    assert "  version" not in fields and "; version=" not in result.output  # a file backend numbers no updates


def test_each_successful_up_emits_a_stack_asset_event_without_values(run_dag_file, engine):
    secret = "asset-secret-value-71ac"
    dag_id = f"t_asset_{engine.name.replace('-', '_')}"
    result = run_dag_file("asset_event", engine=engine, dag_id=dag_id, secret=secret)
    assert result.state == "success", result.output[-3000:]
    from airflow.models.asset import AssetEvent, AssetModel, TaskOutletAssetReference
    from airflow.utils.session import create_session

    with create_session() as session:
        asset = session.query(AssetModel).filter(AssetModel.uri == "pulumi://network/prod").one()
        events = [e.extra for e in session.query(AssetEvent).filter(AssetEvent.asset_id == asset.id)
                  if e.source_dag_id == dag_id]
        # The asset page's "Producing Tasks": the stack is literal, so the serialized DAG declares it.
        producers = [(r.dag_id, r.task_id) for r in session.query(TaskOutletAssetReference).filter(
            TaskOutletAssetReference.asset_id == asset.id, TaskOutletAssetReference.dag_id == dag_id)]
    assert producers == [(dag_id, "network")]
    assert len(events) == 1, events  # the up, not the preview; once, not also through the alias
    assert events[0]["output_keys"] == ["token", "vpc"] and events[0]["secret_output_keys"] == ["token"]
    assert events[0]["version"] is None and events[0]["changes"] == {"create": 1}
    assert secret not in json.dumps(events[0])


#: What a task asks of the CLI for each operation (command words, and the flags that matter): the stack selected,
#: or created in the same call, the operation, then for an ``up`` its outputs in one call; file backends number
#: no updates, so no ``stack history``.
EXPECTED_CALLS = {
    "up (new stack)": [["stack", "select", "--create"], ["up"], ["stack", "output", "--show-secrets"]],
    "up (existing stack)": [["stack", "select", "--create"], ["up"], ["stack", "output", "--show-secrets"]],
    "preview": [["stack", "select", "--create"], ["preview"]],
    "refresh": [["stack", "select"], ["refresh"]],
    "destroy + remove": [["stack", "select"], ["destroy"], ["stack", "rm"]],
}
_FLAGS = ("--create", "--show-secrets")


def _command_words(argv: list[str]) -> list[str]:
    words = [a for a in argv if not a.startswith("-")]
    words = words[:2] if words[:1] == ["stack"] else words[:1]
    return words + [a for a in argv if a in _FLAGS]


def test_cli_invocations_per_operation(run_dag_file, engine, backend, tmp_path):
    folder = tmp_path / "files"
    calls: dict[str, list[list[str]]] = {}
    versions = 0
    for name, step in (
        ("up (new stack)", "up"),
        ("up (existing stack)", "up"),
        ("preview", "preview"),
        ("refresh", "refresh"),
        ("destroy + remove", "destroy_remove"),
    ):
        before = len(engine.invocations(backend))
        result = run_dag_file("local_files", engine=engine, folder=str(folder), count=1, steps=[step])
        assert result.state == "success", result.output[-3000:]
        made = [_command_words(argv) for argv in engine.invocations(result.backend)[before:]]
        versions += made.count(["version"])
        calls[name] = [words for words in made if words != ["version"]]
    assert calls == EXPECTED_CALLS
    # `pulumi version` once per worker and executable (the in-process stand-in has no executable to ask).
    assert versions == (0 if engine.cli is None else 1)
