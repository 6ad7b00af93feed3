"""Every example under ``examples/`` parses cleanly and runs: its outputs reach the tasks downstream, and
the engine ran the operations the example is about."""

from __future__ import annotations

import json
import re

import pytest

from tests.examples.conftest import example_files

pytestmark = pytest.mark.integration

DAGS = {
    "data_platform": {"data_platform"},
}


def _stack_names(backend, project: str) -> list[str]:
    folder = backend / ".pulumi" / "stacks" / project
    return sorted(p.stem for p in folder.glob("*.json")) if folder.exists() else []


def _state(backend, project: str, stack: str) -> list[dict]:
    state = json.loads((backend / ".pulumi" / "stacks" / project / f"{stack}.json").read_text())
    return state["checkpoint"]["latest"].get("resources") or []


# -- parsing -------------------------------------------------------------------------------------------


def test_every_example_is_listed_here():
    found = {path.parent.parent.name for path in example_files()} - {"quickstart"}
    assert found == set(DAGS)


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.parent.parent.name)
def test_example_parses_without_import_errors(path, airflow_home):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(path))
    assert bag.import_errors == {}
    expected = DAGS.get(path.parent.parent.name, {"quickstart"})
    assert set(bag.dag_ids) == expected


# -- data platform -------------------------------------------------------------------------------------


def test_data_platform_outputs_configure_the_load(examples):
    dag_id, result = examples.run("data_platform")
    assert result.state == "success", result.output[-3000:]
    job = result.xcom("load")
    assert re.fullmatch(r"gs://landing-[0-9a-f]{7}/events/\d{4}-\d\d-\d\d/\*\.parquet", job["source_uris"][0]), job
    assert job["destination_table"] == "acme-data-dev.analytics_dev.events"
    assert re.fullmatch(r"loader-[0-9a-f]{7}@acme-data-dev\.iam\.gserviceaccount\.com", job["service_account"]), job
    types = sorted(r["type"] for r in _state(result.backend, "data-platform", "dev"))
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
