"""Stack outputs to XCom (:mod:`airflow_pulumi_decorators.publish.xcom`): secrets withheld or masked, reserved
names refused, a warning per declared output left without a value."""

import pytest

from airflow_pulumi_decorators.errors import ReservedOutputNameError
from airflow_pulumi_decorators.outputs import WITHHELD_MARKER, StackOutput, is_withheld_output
from airflow_pulumi_decorators.publish.xcom import to_xcom, warn_missing_outputs


def test_plain_outputs_pass_through_as_json_values():
    masked, logged = [], []
    out = to_xcom(
        {"bucket": StackOutput("raw-123"), "count": StackOutput(3), "tags": StackOutput({"a": [1, 2]})},
        push_secrets=False,
        mask=masked.append,
        log=logged.append,
    )
    assert out == {"bucket": "raw-123", "count": 3, "tags": {"a": [1, 2]}}
    assert masked == [] and logged == []


def test_secret_outputs_are_withheld_by_default_keeping_their_key_with_a_marker_that_says_so():
    masked, logged = [], []
    out = to_xcom(
        {"password": StackOutput("s3cr3t-value", secret=True), "url": StackOutput("u")},
        push_secrets=False,
        mask=masked.append,
        log=logged.append,
        project="warehouse",
        stack="dev",
    )
    assert out["url"] == "u" and is_withheld_output(out["password"])
    # What the UI's XCom view shows: which output, of which stack, and how to hand it on; never the value.
    assert out["password"] == {
        WITHHELD_MARKER: 1, "output": "password", "project": "warehouse", "stack": "dev",
        "note": "secret stack output withheld: its value is never stored in XCom. To hand it to downstream tasks, "
                'set secret_outputs="reference" on the producing task (docs/outputs.md)',
    }
    assert "s3cr3t-value" not in repr(out)
    assert masked == []
    assert len(logged) == 1 and "password" in logged[0] and "s3cr3t-value" not in logged[0]


def test_pushed_secret_outputs_are_masked_including_nested_strings():
    masked = []
    out = to_xcom(
        {"creds": StackOutput({"user": "admin-user", "pw": "nested-secret"}, secret=True)},
        push_secrets=True,
        mask=masked.append,
        log=lambda _: None,
    )
    assert out == {"creds": {"user": "admin-user", "pw": "nested-secret"}}
    assert "nested-secret" in masked and "admin-user" in masked


def test_to_xcom_refuses_a_reserved_name_exported_by_the_program_itself():
    with pytest.raises(ReservedOutputNameError):
        to_xcom({"pulumi_summary": StackOutput(1)}, push_secrets=False, mask=print, log=print, multiple_outputs=True)
    assert to_xcom({"pulumi_summary": StackOutput(1)}, push_secrets=False, mask=print, log=print) == {
        "pulumi_summary": 1
    }


def test_declared_outputs_without_a_value_are_each_warned_about_by_name():
    warned = []
    missing = warn_missing_outputs(
        ["bucket", "url", "count", "secret"],
        {"bucket": StackOutput("b-1"), "url": StackOutput(None), "secret": StackOutput("x", secret=True)},
        warn=warned.append,
    )
    assert missing == ["url", "count"]
    assert len(warned) == 2
    assert "stack output 'url' is None after the update" in warned[0]
    assert "stack output 'count' has no value after the update" in warned[1]
    assert all("downstream tasks reading it get None" in line for line in warned)


def test_no_warning_when_every_declared_output_has_a_value():
    warned = []
    assert warn_missing_outputs(["a"], {"a": StackOutput(0), "extra": StackOutput(None)}, warn=warned.append) == []
    assert warned == []


def test_a_declared_output_without_a_value_keeps_its_key_with_none():
    out = to_xcom({"ok": StackOutput(1)}, push_secrets=False, mask=print, log=print, declared=["ok", "none", "later"])
    assert out == {"ok": 1, "none": None, "later": None}


def test_secret_outputs_become_references_never_values_when_asked():
    masked, logged = [], []
    out = to_xcom(
        {"password": StackOutput("s3cr3t-ref-value", secret=True), "url": StackOutput("u")},
        push_secrets=False, mask=masked.append, log=logged.append,
        reference=lambda key: {"__pulumi_secret_output__": 1, "key": key},
    )
    assert out == {"password": {"__pulumi_secret_output__": 1, "key": "password"}, "url": "u"}
    assert "s3cr3t-ref-value" not in repr(out) + " ".join(logged)
    assert masked == []  # nothing to mask here: the value never leaves the state
    assert logged == ["secret outputs pushed to XCom as references, never their values: password (a downstream "
                      "task resolves them from the stack's state and masks them; see docs/outputs.md)"]


def test_the_withheld_and_the_deprecated_pushed_log_lines_say_where_protection_holds():
    logged: list[str] = []
    to_xcom({"pw": StackOutput("x-secret-1", secret=True)}, push_secrets=False, mask=print, log=logged.append)
    assert "secret_outputs='reference'" in logged[0] and "masked in logs" not in logged[0]
    logged.clear()
    to_xcom({"pw": StackOutput("x-secret-1", secret=True)}, push_secrets=True, mask=lambda _: None, log=logged.append)
    assert "IN PLAIN TEXT" in logged[0] and "metadata database" in logged[0] and "only in this task's log" in logged[0]
    assert "x-secret-1" not in logged[0]
