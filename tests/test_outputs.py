import dataclasses
import datetime
import decimal

import pytest

from airflow_pulumi_decorators.errors import OutputValueError, ReservedOutputNameError
from airflow_pulumi_decorators.outputs import (
    WITHHELD,
    StackOutput,
    check_output_names,
    plain_output,
    to_xcom,
    warn_missing_outputs,
)


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


def test_secret_outputs_are_withheld_by_default_but_keep_their_key():
    masked, logged = [], []
    out = to_xcom(
        {"password": StackOutput("s3cr3t-value", secret=True), "url": StackOutput("u")},
        push_secrets=False,
        mask=masked.append,
        log=logged.append,
    )
    assert out == {"password": WITHHELD, "url": "u"}
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


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ((1, "a"), [1, "a"]),
        ({3, 1, 2}, [1, 2, 3]),
        (frozenset({"b", "a"}), ["a", "b"]),
        ({"a": (1, {2}), "b": [None, True, 1.5]}, {"a": [1, [2]], "b": [None, True, 1.5]}),
        (2**53, 2**53),
        (-(2**53), -(2**53)),
    ],
)
def test_lossless_values_are_converted(value, expected):
    assert plain_output("k", value) == expected


@dataclasses.dataclass
class Point:
    x: int


@pytest.mark.parametrize(
    ("value", "path", "type_name", "words"),
    [
        (b"ab", "", "bytes", "decode it"),
        (bytearray(b"a"), "", "bytearray", "decode it"),
        (datetime.datetime(2026, 1, 2), "", "datetime", "isoformat()"),
        (datetime.date(2026, 1, 2), "", "date", "isoformat()"),
        (decimal.Decimal("1.10"), "", "Decimal", "str(value)"),
        (Point(1), "", "Point", "dataclasses.asdict"),
        (float("inf"), "", "float", "JSON cannot hold"),
        (2**53 + 1, "", "int", "±2**53"),
        ({"a": [1, {"b": b"x"}]}, "['a'][1]['b']", "bytes", "decode it"),
        ({"m": {1: "a"}}, "['m'][1]", "int", "str(key)"),
        ({1, "a"}, "", "set", "cannot be sorted"),
    ],
)
def test_values_without_a_lossless_json_form_are_refused_naming_key_path_type_and_fix(value, path, type_name, words):
    with pytest.raises(OutputValueError) as caught:
        plain_output("endpoint", value)
    error = caught.value
    assert (error.key, error.path, error.type_name) == ("endpoint", path, type_name)
    assert str(error).startswith("stack output 'endpoint'" + (f" at {path}" if path else ""))
    assert words in str(error)


def test_values_the_engine_serialises_itself_pass_through():
    marker = object()
    assert plain_output("r", {"res": marker}, passthrough=lambda v: v is marker) == {"res": marker}


@pytest.mark.parametrize("name", ["return_value", "pulumi_summary", "skipmixin_key", "_link_PulumiUpdateLink"])
def test_output_names_the_task_pushes_itself_are_refused_with_multiple_outputs(name):
    with pytest.raises(ReservedOutputNameError) as caught:
        check_output_names(["fine", name], multiple_outputs=True)
    assert caught.value.key == name
    assert "Rename the output" in str(caught.value) and "multiple_outputs=False" in str(caught.value)
    check_output_names(["fine", name], multiple_outputs=False)  # inside return_value any name is fine


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
