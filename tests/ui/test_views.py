"""What the Pulumi view assembles from records of Airflow's database, without a database: secrets withheld,
the lock holder, the latest operation, resources and drift, the HTML escaped."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow_pulumi_decorators.outputs import REF_MARKER, withheld_output
from airflow_pulumi_decorators.ui import pages
from airflow_pulumi_decorators.ui.views import (
    EventRecord,
    TaskRecord,
    latest_up,
    outputs_view,
    stack_detail,
    stacks_index,
    task_detail,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
TARGET = {"project": "net", "stack": "prod", "backend": "gs://state-bucket", "environment": "prod"}


def _record(task_id: str, operation: str, minutes: int, *, state: str = "success", finished: bool = True,
            **target) -> TaskRecord:
    when = T0 + timedelta(minutes=minutes)
    summary = {**TARGET, "operation": operation, "changes": {"update": 1}, "version": None} if finished else None
    return TaskRecord(dag_id="deploy", run_id=f"run-{minutes}", task_id=task_id, map_index=-1, state=state,
                      start_date=when, end_date=when if finished else None,
                      target={**TARGET, "operation": operation, **target}, summary=summary)


def test_a_secret_output_and_a_reference_are_withheld_and_a_plain_none_is_shown():
    ref = {REF_MARKER: 1, "project": "net", "stack": "prod", "key": "password"}
    rows = outputs_view({"url": "https://x", "token": "s3cr3t-value", "password": ref, "empty": None,
                         "cert": withheld_output("net", "prod", "cert")}, {"token"})
    assert rows == [
        {"key": "cert", "value": "withheld", "withheld": True},
        {"key": "empty", "value": None, "withheld": False},
        {"key": "password", "value": "withheld", "withheld": True},
        {"key": "token", "value": "withheld", "withheld": True},
        {"key": "url", "value": "https://x", "withheld": False},
    ]
    assert "s3cr3t-value" not in repr(rows)


def test_a_running_task_that_pushed_its_target_holds_the_lock_and_a_finished_one_does_not():
    up = _record("up", "up", 0, resources=[{"type": "gcp:storage/bucket:Bucket", "name": "raw"}])
    running = _record("up", "up", 10, state="running", finished=False)
    [row] = stacks_index([up, running], [])
    assert row["locked"] is True
    assert [(h["dag_id"], h["run_id"], h["task_id"]) for h in row["lock_holders"]] == [("deploy", "run-10", "up")]
    assert row["lock_holders"][0]["airflow_path"] == "/dags/deploy/runs/run-10/tasks/up"
    [row] = stacks_index([up, _record("up", "up", 10, state="failed", finished=False)], [])
    assert row["locked"] is False


def test_the_index_row_has_the_latest_operation_resources_backend_and_drift():
    up = _record("up", "up", 0, resources=[{"type": "gcp:storage/bucket:Bucket", "name": "raw"},
                                            {"type": "gcp:pubsub/topic:Topic", "name": "events"}])
    preview = _record("plan", "preview", 5)
    drift = EventRecord(uri="pulumi-drift://net/prod", timestamp=T0 + timedelta(minutes=7),
                        extra={"drift": True, "changes": {"update": 1},
                               "resources": [{"op": "update", "type": "t", "name": "raw", "properties": ["labels"]}]})
    older = EventRecord(uri="pulumi-drift://net/prod", timestamp=T0, extra={"drift": False})
    [row] = stacks_index([preview, up], [older, drift])
    assert (row["project"], row["stack"], row["backend"]) == ("net", "prod", "gs://state-bucket")
    assert row["last_operation"]["operation"] == "preview"
    assert row["resource_count"] == 2  # told by the up, not the preview
    assert row["drift"]["drift"] is True and row["drift"]["resources"][0]["properties"] == ["labels"]
    assert "drift</span> (update raw)" in pages.stacks_page([row], prefix="/pulumi", base="")


def test_a_stack_known_only_from_an_asset_event_is_listed_and_a_destroy_empties_its_resources():
    [row] = stacks_index([], [EventRecord(uri="pulumi://app/org/dev", timestamp=T0, extra={"operation": "up"})])
    assert (row["project"], row["stack"], row["resource_count"]) == ("app", "org/dev", None)
    up = _record("up", "up", 0, resources=[{"type": "t", "name": "a"}])
    gone = _record("down", "destroy", 3, resources=[])
    detail = stack_detail("net", "prod", [up, gone], [])
    assert detail["resources"] == [] and detail["resource_count"] == 0
    assert [h["operation"] for h in detail["history"]] == ["destroy", "up"]


def test_outputs_come_from_the_latest_successful_up_with_its_events_secret_keys():
    first, second = _record("up", "up", 0), _record("up", "up", 5)
    failed = _record("up", "up", 9, state="failed")
    assert latest_up("net", "prod", [first, failed, second]) is second
    event = EventRecord(uri="pulumi://net/prod", timestamp=T0, extra={"secret_output_keys": ["key"]},
                        dag_id="deploy", run_id="run-5", task_id="up")
    detail = stack_detail("net", "prod", [first, second], [event], {"key": "pem-9911", "name": "n"}, second)
    assert detail["outputs"] == [{"key": "key", "value": "withheld", "withheld": True},
                                 {"key": "name", "value": "n", "withheld": False}]
    assert stack_detail("net", "other", [first], []) is None


def test_a_preview_task_shows_its_steps_as_the_log_diff_and_the_page_escapes_values():
    plan = _record("plan", "preview", 0)
    value = {"steps": [{"op": "update", "type": "t:Svc", "name": "api", "urn": "u",
                        "diff": [{"kind": "update", "path": "image", "old": '"<b>1</b>"', "new": '"2"'}]}]}
    detail = task_detail(plan, value)
    assert detail["diff"] == ["  ~ t:Svc api update", '      ~ image: "<b>1</b>" => "2"']
    html = pages.task_page(detail, prefix="/pulumi", base="")
    assert "&lt;b&gt;1&lt;/b&gt;" in html and "<b>1</b>" not in html


def test_a_backend_with_credentials_in_its_url_is_shown_without_them():
    record = _record("up", "up", 0, backend="s3://bucket?region=x")
    secret_summary = dict(record.summary or {}, backend="https://user:tok3n@example.com/state?key=tok3n")
    shown = task_detail(TaskRecord(**{**record.__dict__, "summary": secret_summary}), {})
    assert "tok3n" not in repr(shown)
