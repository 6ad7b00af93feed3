"""Every example under ``examples/`` parses cleanly and runs: its outputs reach the tasks downstream, and
the engine ran the operations the example is about."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from airflow_pulumi_decorators.identity import CREDENTIAL_ENV_VARS
from airflow_pulumi_decorators.testing.hitl import respond_in_background
from airflow_pulumi_decorators.testing.standin import read_journal
from tests.dagrun import all_text_under
from tests.examples.conftest import REPO, example_files

pytestmark = pytest.mark.integration

DAGS = {
    "quickstart": {"quickstart"},
    "data_platform": {"data_platform"},
    "ephemeral_cluster": {"nightly_spark"},
    "preview_environments": {"preview_environments"},
    "drift_detection": {"warehouse_deploy", "warehouse_drift"},
    "drift_remediation": {"lake_deploy", "lake_drift_watch", "lake_remediation"},
    "approval_gated_deploy": {"payments_release"},
    "federated_identity": {"federated_identity"},
}


def _stack_names(backend, project: str) -> list[str]:
    folder = backend / ".pulumi" / "stacks" / project
    return sorted(p.stem for p in folder.glob("*.json")) if folder.exists() else []


def _state(backend, project: str, stack: str) -> list[dict]:
    state = json.loads((backend / ".pulumi" / "stacks" / project / f"{stack}.json").read_text())
    return state["checkpoint"]["latest"].get("resources") or []


# -- parsing -------------------------------------------------------------------------------------------


def test_every_example_is_listed_here():
    assert {path.parent.parent.name for path in example_files()} == set(DAGS)


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.parent.parent.name)
def test_example_parses_without_import_errors(path, airflow_home):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(path))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == DAGS[path.parent.parent.name]


def test_parsing_the_examples_loads_no_heavy_module():
    from tests.test_import_cost import _heavy_after

    paths = [str(path) for path in example_files()]
    assert _heavy_after(
        "import runpy\n"
        f"for path in {paths!r}:\n"
        "    runpy.run_path(path)\n"
    ) == []


def test_docs_include_every_example_file():
    text = (REPO / "docs" / "examples.md").read_text()
    included = re.findall(r'^--8<-- "([^"]+)"$', text, re.M)
    expected = [str(path.relative_to(REPO)) for path in example_files() if path.parent.parent.name != "quickstart"]
    assert sorted(included) == sorted(expected)
    for name in DAGS:
        assert (REPO / "examples" / name / "README.md").is_file()


# -- quickstart ----------------------------------------------------------------------------------------


def test_quickstart_dag_chains_the_pet_name_into_load(examples):
    _, result = examples.run("quickstart", run_conf={"env": "staging"})
    assert result.state == "success", result.output[-3000:]
    outputs = result.xcom("dataset")
    assert re.fullmatch(r"dataset-[0-9a-f]{8}", outputs["dataset"]) and outputs["words"] == 2
    assert result.xcom("load") == f"loading into dataset {outputs['dataset']} (2 words)"
    assert _stack_names(result.backend, "quickstart") == ["staging"]


def test_demo_script_runs_the_quickstart_on_the_standin(tmp_path):
    """``scripts/demo.sh`` ends in ``examples/quickstart/run.py``: with no ``pulumi`` on PATH it runs the
    stand-in, and a second run changes nothing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PULUMI"))}
    env.update(QUICKSTART_AIRFLOW_HOME=str(tmp_path / "home"),
               PATH=os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin", "/bin"]))
    script = [sys.executable, str(REPO / "examples" / "quickstart" / "run.py")]
    first = subprocess.run(script, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert "engine: offline stand-in engine (pulumi-standin)" in first.stdout
    # A first run reads clean: no plugin pre-install attempted on an engine that runs none.
    assert "could not install provider plugin" not in first.stdout + first.stderr
    [line] = [ln for ln in first.stdout.splitlines() if ln.startswith("  load['return_value']")]
    assert re.fullmatch(r"  load\['return_value'\] = 'loading into dataset dataset-[0-9a-f]{8} \(2 words\)'", line)
    # The listing is the stack outputs and the result: not the XComs our tasks push for the UI.
    assert not [ln for ln in first.stdout.splitlines() if ln.startswith("  ") and "['pulumi_" in ln]
    second = subprocess.run(script, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0 and line in second.stdout.splitlines()


# -- data platform -------------------------------------------------------------------------------------


def test_data_platform_outputs_configure_the_load(examples):
    _, result = examples.run("data_platform")
    assert result.state == "success", result.output[-3000:]
    job = result.xcom("load")
    assert re.fullmatch(r"gs://landing-[0-9a-f]{7}/events/\d{4}-\d\d-\d\d/\*\.parquet", job["source_uris"][0]), job
    assert job["destination_table"] == "acme-data-dev.analytics_dev.events"
    assert re.fullmatch(r"loader-[0-9a-f]{7}@acme-data-dev\.iam\.gserviceaccount\.com", job["service_account"]), job
    types = sorted(r["type"] for r in _state(result.backend, "data-platform", "dev")
                   if not r["type"].startswith("pulumi:providers:"))  # every engine records default providers
    assert types == [
        "gcp:bigquery/dataset:Dataset", "gcp:bigquery/datasetIamMember:DatasetIamMember",
        "gcp:serviceaccount/account:Account", "gcp:storage/bucket:Bucket",
        "gcp:storage/bucketIAMMember:BucketIAMMember", "pulumi:pulumi:Stack",
    ]

    _, again = examples.run("data_platform")
    assert again.state == "success", again.output[-3000:]
    assert again.xcom("platform") == result.xcom("platform")  # the same stack computes the same values
    assert again.xcom("platform", "pulumi_summary")["has_changes"] is False
    assert [op for op, _ in examples.operations(result.backend)] == ["up", "up"]


def test_data_platform_per_environment(examples):
    _, result = examples.run("data_platform", run_conf={"env": "prod"})
    assert result.state == "success", result.output[-3000:]
    job = result.xcom("load")
    assert job["destination_table"] == "acme-data-prod.analytics_prod.events"
    assert job["service_account"].endswith("@acme-data-prod.iam.gserviceaccount.com")
    assert _stack_names(result.backend, "data-platform") == ["prod"]


# -- ephemeral cluster ---------------------------------------------------------------------------------


def test_ephemeral_cluster_lives_only_while_the_job_runs(examples):
    _, result = examples.run("ephemeral_cluster", "nightly_spark")
    assert result.state == "success", result.output[-3000:]
    assert result.task_states == {"spark_cluster": "success", "daily_rollup": "success",
                                  "spark_cluster_teardown": "success"}
    job = result.xcom("daily_rollup")
    cluster = result.xcom("spark_cluster")
    assert re.fullmatch(r"spark-[0-9a-f]{7}", cluster["cluster"]) and cluster["region"] == "europe-west1"
    assert job["job"]["placement"] == {"cluster_name": cluster["cluster"]}
    assert re.fullmatch(r"gs://staging-[0-9a-f]{7}/jobs/daily_rollup\.py",
                        job["job"]["pyspark_job"]["main_python_file_uri"])
    assert [op for op, _ in examples.operations(result.backend)] == ["up", "destroy"]
    teardown = result.xcom("spark_cluster_teardown")
    assert teardown["changes"] == {"delete": 4} and teardown["stack_removed"] is True
    assert _stack_names(result.backend, "nightly-spark") == []


# -- preview environments ------------------------------------------------------------------------------


def test_preview_environment_per_branch_opened_then_closed(examples):
    branch = {"branch": "feature/Login+SSO"}
    _, opened = examples.run("preview_environments", run_conf={**branch, "action": "opened"})
    assert opened.state == "success", opened.output[-3000:]
    assert opened.task_states["preview_env_destroy"] == "skipped"
    assert opened.xcom("preview_env_preview")["changes"] == {"create": 4}
    assert _stack_names(opened.backend, "web-previews") == ["pr-feature-Login-SSO"]
    comment = opened.xcom("post_comment")
    assert re.fullmatch(
        r"Preview of `feature/Login\+SSO`: https://storage\.googleapis\.com/site-[0-9a-f]{7}/index\.html "
        r"\(sample data: `projects/acme-previews/datasets/pr_feature_Login_SSO`\)", comment), comment

    _, closed = examples.run("preview_environments", run_conf={**branch, "action": "closed"})
    assert closed.state == "success", closed.output[-3000:]
    assert closed.task_states == {"route": "success", "preview_env_destroy": "success",
                                  "preview_env_preview": "skipped", "preview_env": "skipped",
                                  "post_comment": "skipped"}
    assert _stack_names(closed.backend, "web-previews") == []
    assert [op for op, _ in examples.operations(closed.backend)] == ["preview", "up", "destroy"]
    assert closed.xcom("preview_env_destroy")["stack_removed"] is True


# -- drift detection -----------------------------------------------------------------------------------


def test_drift_detection_passes_until_the_cloud_drifts(examples, monkeypatch):
    for env in ("dev", "prod"):
        _, deployed = examples.run("drift_detection", "warehouse_deploy", run_conf={"env": env})
        assert deployed.state == "success", deployed.output[-3000:]
        assert deployed.xcom("warehouse")["dataset"] == f"acme-wh-{env}.analytics_warehouse"
    backend = deployed.backend

    _, clean = examples.run("drift_detection", "warehouse_drift")
    assert clean.state == "success", clean.output[-3000:]
    assert clean.task_states == {"warehouse_dev_drift_check": "success", "warehouse_prod_drift_check": "success"}
    checks = examples.operations(backend)[2:]
    assert [op for op, _ in checks] == ["preview", "preview"]
    assert all({"--refresh", "--expect-no-changes"} <= flags for _, flags in checks)

    # Someone edits the prod bucket in the console: the stand-in's refresh now reports it changed.
    monkeypatch.setenv("PULUMI_STANDIN_DRIFT", "exports")
    _, drifted = examples.run("drift_detection", "warehouse_drift")
    assert drifted.state == "failed"
    assert drifted.task_states == {"warehouse_dev_drift_check": "failed", "warehouse_prod_drift_check": "failed"}
    for env in ("dev", "prod"):
        assert f"DriftDetectedError: stack '{env}' has drifted: preview expected no changes but found update=1" \
            in drifted.output
    assert "  update gcp:storage/bucket:Bucket exports" in drifted.output
    assert "DRIFT ALERT: task warehouse_prod_drift_check failed" in drifted.output
    assert len(list((backend / ".pulumi" / "history" / "warehouse" / "prod").glob("*.json"))) == 1  # wrote nothing


# -- drift remediation ---------------------------------------------------------------------------------


def _drift_events(dag_id: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        asset = session.query(AssetModel).filter(AssetModel.uri == "pulumi-drift://lake/prod").one()
        return [e.extra for e in session.query(AssetEvent).filter(AssetEvent.asset_id == asset.id)
                if e.source_dag_id == dag_id]


def test_drift_remediation_is_scheduled_on_the_stacks_drift_asset(airflow_home):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "examples" / "drift_remediation" / "dags"))
    uris = [asset.uri for asset in bag.dags["lake_remediation"].timetable.asset_condition.objects]
    assert uris == ["pulumi-drift://lake/prod"]


def test_drift_watch_emits_drift_events_and_the_approved_remediation_applies(examples, monkeypatch):
    _, deployed = examples.run("drift_remediation", "lake_deploy")
    assert deployed.state == "success", deployed.output[-3000:]
    clean_id, clean = examples.run("drift_remediation", "lake_drift_watch")
    assert clean.state == "success", clean.output[-3000:]
    assert [(e["drift"], e["resources"]) for e in _drift_events(clean_id)] == [(False, [])]

    monkeypatch.setenv("PULUMI_STANDIN_DRIFT", "exports")  # someone edits the bucket in the console
    drifted_id, drifted = examples.run("drift_remediation", "lake_drift_watch")
    assert drifted.state == "success", drifted.output[-3000:]  # fail_on_drift=False: reported, not failed
    [event] = _drift_events(drifted_id)
    assert event["drift"] is True and event["changes"] == {"update": 1}
    assert [(r["op"], r["type"], r["name"]) for r in event["resources"]] == [
        ("update", "gcp:storage/bucket:Bucket", "exports")]

    # Airflow's scheduler would start it on that event; dag.test() runs it by hand.
    dag_id = f"lake_remediation_{examples.kit.name.replace('-', '_')}"
    responder = respond_in_background(dag_id, "lake_approval", "Approve")
    _, fixed = examples.run("drift_remediation", "lake_remediation", run_conf={"remediate": True}, run_id=dag_id)
    responder.join(5)
    assert fixed.state == "success", fixed.output[-3000:]
    assert fixed.task_states == {"drifted": "success", "lake_preview": "success", "lake_approval": "success",
                                 "lake": "success"}
    assert "#### `update` gcp:storage/bucket:Bucket **exports**" in fixed.rendered["lake_approval"]["body"]
    assert _drift_events(dag_id) == []  # the remediation's own preview is no drift check: no self-trigger
    checks = examples.operations(fixed.backend)[-2:]
    assert [op for op, _ in checks] == ["preview", "up"] and all("--refresh" in flags for _, flags in checks)


# -- approval-gated deploy -----------------------------------------------------------------------------

IMAGE = "europe-docker.pkg.dev/acme/payments/api:1.4.2"


def _resource_names(backend, project: str, stack: str) -> list[str]:
    path = backend / ".pulumi" / "stacks" / project / f"{stack}.json"
    if not path.exists():
        return []
    # Default provider resources are recorded by every engine; the program's resources are what count here.
    return sorted(r["urn"].rsplit("::", 1)[-1] for r in _state(backend, project, stack)
                  if not r["type"].startswith("pulumi:providers:"))


def test_approved_release_reaches_prod(examples):
    dag_id = f"payments_release_ok_{examples.kit.name.replace('-', '_')}"
    responder = respond_in_background(dag_id, "prod_approval", "Approve")
    _, result = examples.run("approval_gated_deploy", "payments_release", run_conf={"image": IMAGE}, run_id=dag_id)
    responder.join(5)
    assert result.state == "success", result.output[-3000:]
    assert set(result.task_states.values()) == {"success"}
    staging_url = result.xcom("staging")["url"]
    assert re.fullmatch(r"https://api-[0-9a-f]{7}-\d+\.europe-west1\.run\.app", staging_url)
    prod = result.xcom("prod")
    assert prod["url"] != staging_url and prod["runtime"].endswith("@acme-pay-prod.iam.gserviceaccount.com")
    assert result.xcom("announce") == f"payments API {IMAGE} is live at {prod['url']}"
    body = result.rendered["prod_approval"]["body"]
    assert "`create` gcp:cloudrunv2/service:Service **api**" in body
    assert [op for op, _ in examples.operations(result.backend)] == ["up", "preview", "up"]
    assert _resource_names(result.backend, "payments-api", "prod") == ["api", "api-runtime", "payments-api-prod"]


def test_the_release_approval_is_assigned_to_users_its_readme_declares_and_only_they_may_answer(airflow_home):
    """``assigned_users`` holds user ids (not a group): checked with Airflow's own simple auth manager."""
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.dag_processing.dagbag import DagBag

    path = next(p for p in example_files() if p.parent.parent.name == "approval_gated_deploy")
    gate = DagBag(dag_folder=str(path)).get_dag("payments_release").get_task("prod_approval")
    assigned = {user["id"] for user in gate.assigned_users}
    readme = (path.parent.parent / "README.md").read_text()
    (users,) = re.findall(r'SIMPLE_AUTH_MANAGER_USERS="([^"]+)"', readme)
    roles = dict(entry.split(":") for entry in users.split(","))
    assert assigned and assigned <= set(roles), (assigned, roles)  # every id is a user the README creates
    manager = SimpleAuthManager()
    for name, role in roles.items():
        may_answer = manager.is_authorized_hitl_task(
            assigned_users=assigned, user=SimpleAuthManagerUser(username=name, role=role))
        assert may_answer == (name in assigned), name  # the README's admin sees the request, cannot answer it


def test_rejected_release_leaves_prod_alone(examples):
    dag_id = f"payments_release_no_{examples.kit.name.replace('-', '_')}"
    responder = respond_in_background(dag_id, "prod_approval", "Reject")
    _, result = examples.run("approval_gated_deploy", "payments_release", run_conf={"image": IMAGE}, run_id=dag_id)
    responder.join(5)
    assert result.task_states["staging"] == "success" and result.task_states["prod_approval"] == "success"
    assert result.task_states["prod"] == "skipped" and result.task_states["announce"] == "skipped"
    assert [op for op, _ in examples.operations(result.backend)] == ["up", "preview"]
    assert _resource_names(result.backend, "payments-api", "prod") == []


# -- federated identity --------------------------------------------------------------------------------


def test_federated_identity_impersonates_the_environments_deployer(examples, fake, subject_file, tmp_path,
                                                                    monkeypatch):
    for name in CREDENTIAL_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "wif-config.json"
    config.write_text(json.dumps(fake.external_account_config(subject_token_file=subject_file)))
    monkeypatch.setenv("GCP_WIF_CONFIG", str(config))
    monkeypatch.setenv("GCP_IAM_ENDPOINT", fake.url)

    _, result = examples.run("federated_identity")
    assert result.state == "success", result.output[-3000:]
    deployer = "pulumi-deployer@acme-dev.iam.gserviceaccount.com"
    assert [r.endpoint for r in fake.requests] == ["sts", "iam"]
    assert fake.requests[1].path.endswith(f"/serviceAccounts/{deployer}:generateAccessToken")
    assert f"acts as {deployer} (" in result.output
    [up] = [rec for rec in read_journal(str(result.backend / ".pulumi" / "standin-journal.jsonl"))
            if "up" in rec["argv"]]
    assert "GOOGLE_OAUTH_ACCESS_TOKEN" in up["env_names"]  # the impersonated token went to the engine
    target = result.xcom("publish")
    assert re.fullmatch(r"gs://reports-[0-9a-f]{7}/daily/\d{4}-\d\d-\d\d\.csv", target), target
    tokens = [t.token for t in fake.issued.values()] + [fake.subject_token]
    places = result.output + json.dumps(result.xcoms, default=str) + all_text_under(result.backend)
    assert not [t[:12] for t in tokens if t in places]
