"""What a task reports once the engine is done (:mod:`airflow_pulumi_decorators.publish`): the result line and
summary XCom, policy warnings, the return value of each operation, the asset event of an ``up``."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from airflow_pulumi_decorators import OperationOptions
from airflow_pulumi_decorators.backend_url import BackendUrl
from airflow_pulumi_decorators.engine import OperationRequest, OperationResult, RunContext
from airflow_pulumi_decorators.operations import SUMMARY_KEY
from airflow_pulumi_decorators.outputs import StackOutput, is_withheld_output
from airflow_pulumi_decorators.publish import links, report, task_value

# Importing Airflow configures logging (replacing the root logger's handlers): done here, before caplog attaches
# its handler, rather than inside the first test that reports (whose records would be lost).
assert links.PulumiUpdateLink


class TI:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


class Outlets(dict):
    def __missing__(self, alias: Any) -> Any:
        events = self[alias] = Events()
        return events


class Events(list):
    def add(self, asset: Any, extra: Any = None) -> None:
        self.append((asset.uri, extra))


def request(operation: str = "up", backend: str = "file:///srv/state", **options: Any) -> OperationRequest:
    return OperationRequest(
        project="infra", stack="acme/dev", program=dict, operation=operation, message="airflow: run",
        context=RunContext(backend=BackendUrl(backend), plugins_dir="/p"), options=OperationOptions(**options),
    )


def result(operation: str = "up", **given: Any) -> OperationResult:
    fields: dict[str, Any] = {"operation": operation, "stack": "acme/dev", "outputs": {}, "changes": {"create": 2},
                              "version": 7, "duration_s": 1.5}
    return OperationResult(**{**fields, **given})


@pytest.fixture
def log(caplog) -> logging.Logger:
    caplog.set_level(logging.INFO, logger="test-publish")
    return logging.getLogger("test-publish")


def test_report_logs_the_result_and_pushes_the_summary_with_the_link(log, caplog):
    ti = TI()
    violation = {"level": "advisory", "policy_pack": "gcp", "policy": "labels", "message": "add a label"}
    summary = report(request(backend="https://api.pulumi.com"), result(policy_violations=[violation]),
                     environment="dev", context={"ti": ti}, log=log)
    assert ti.pushed == {SUMMARY_KEY: summary}
    assert summary["url"] == "https://app.pulumi.com/acme/infra/dev/updates/7"
    assert (summary["environment"], summary["backend"], summary["message"]) == (
        "dev", "https://api.pulumi.com", "airflow: run"
    )
    lines = [r.getMessage() for r in caplog.records]
    assert "pulumi up on stack acme/dev: changes: create=2; version=7; 1.5s" in lines
    assert any(line.startswith("pulumi summary: up on stack acme/dev") for line in lines)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["pulumi policy (advisory) gcp/labels: add a label"]


def _summary_record(caplog) -> list[str]:
    (text,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("pulumi summary:")]
    return text.splitlines()


def test_the_summary_is_logged_as_a_headline_and_one_short_line_per_field(log, caplog):
    summary = report(request(backend="https://api.pulumi.com"), result(), environment="dev", context={"ti": TI()},
                     log=log)
    head, *fields = _summary_record(caplog)
    assert head == "pulumi summary: up on stack acme/dev (XCom pulumi_summary)"
    assert all(line.startswith("  ") and len(line) <= 100 for line in fields), fields
    # Each field line is "key: JSON": the lines give back the pushed summary.
    parsed = {key.strip(): json.loads(value) for key, value in (line.split(": ", 1) for line in fields)}
    assert parsed == summary and [line.split(":")[0].strip() for line in fields] == sorted(summary)


def test_a_backend_that_numbers_no_updates_shows_no_version_rather_than_none(log, caplog):
    summary = report(request(), result(version=None), environment="dev", context={"ti": TI()}, log=log)
    assert summary["version"] is None and summary["url"] is None  # the XCom keeps its keys
    lines = [r.getMessage() for r in caplog.records]
    assert "pulumi up on stack acme/dev: changes: create=2; 1.5s" in lines
    fields = _summary_record(caplog)[1:]
    assert not [line for line in fields if line.split(":")[0].strip() in ("version", "url")]
    assert "None" not in caplog.text and "null" not in "\n".join(fields)


def test_a_drift_check_reports_as_one_and_a_file_backend_has_no_link(log, caplog):
    summary = report(request("preview", expect_no_changes=True), result("preview", version=None),
                     environment="dev", context={"ti": TI()}, log=log)
    assert summary["url"] is None
    assert "pulumi drift check (preview; fails on any change) on stack acme/dev" in caplog.text


def test_an_up_returns_its_outputs_withholding_secrets_and_emits_the_stack_event(log, caplog):
    outlets = Outlets()
    outputs = {"bucket": StackOutput("raw-1"), "password": StackOutput("pw-publish-9", secret=True)}
    value = task_value(request(), result(outputs=outputs, declared_outputs=("bucket", "password", "url")),
                       context={"outlet_events": outlets}, push_secret_outputs=False, emit_asset=True, log=log,
                       mask=lambda _: None)
    assert value["password"]["output"] == "password" and value["password"]["stack"] == "acme/dev"  # the marker
    assert value == {"bucket": "raw-1", "password": value["password"], "url": None}
    assert is_withheld_output(value["password"]) and not is_withheld_output(value["url"])  # None: no value
    ((events,),) = [list(outlets.values())]
    assert [uri for uri, _ in events] == ["pulumi://infra/acme/dev"]
    assert "pw-publish-9" not in caplog.text and "pw-publish-9" not in repr(events)
    assert "stack output 'url' has no value after the update" in caplog.text


def test_pushed_secrets_are_masked_first_and_no_event_when_the_task_emits_none(log):
    masked: list[str] = []
    outlets = Outlets()
    value = task_value(request(), result(outputs={"token": StackOutput("tok-publish-3", secret=True)}),
                       context={"outlet_events": outlets}, push_secret_outputs=True, emit_asset=False, log=log,
                       mask=masked.append)
    assert value == {"token": "tok-publish-3"} and "tok-publish-3" in masked
    assert outlets == {}


@pytest.mark.parametrize("operation", ["preview", "refresh", "destroy"])
def test_other_operations_return_their_changes(log, operation):
    steps = [{"op": "create", "urn": "urn:x", "type": "t", "name": "n"}]
    value = task_value(request(operation), result(operation, steps=steps, stack_removed=operation == "destroy"),
                       context={}, push_secret_outputs=False, emit_asset=True, log=log, mask=lambda _: None)
    assert value == {"changes": {"create": 2}, "has_changes": True, "steps": steps, "stack": "acme/dev",
                     "stack_removed": operation == "destroy"}


class ProducerTI(TI):
    dag_id, task_id = "analytics", "storage"


def test_references_name_the_stack_backend_environment_connection_and_producer_never_the_value(log):
    outputs = {"token": StackOutput("tok-ref-publish-5", secret=True), "bucket": StackOutput("raw-1")}
    value = task_value(request(backend="https://user:pw@api.example.com/x?token=abc"),
                       result(outputs=outputs), context={"ti": ProducerTI()}, push_secret_outputs=False,
                       emit_asset=False, log=log, mask=lambda _: None, secret_outputs="reference", environment="dev",
                       conn_id="pulumi_prod")
    assert value["bucket"] == "raw-1"
    assert value["token"] == {
        "__pulumi_secret_output__": 1, "project": "infra", "stack": "acme/dev", "key": "token",
        "backend": "https://api.example.com/x", "environment": "dev", "pulumi_conn_id": "pulumi_prod",
        "identity_conn_id": None, "identity_kind": None, "dag_id": "analytics", "task_id": "storage",
    }
    assert "tok-ref-publish-5" not in repr(value)
