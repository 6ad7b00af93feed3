import dataclasses
import datetime
import decimal

import pytest

from airflow_pulumi_decorators.errors import OutputValueError, ReservedOutputNameError
from airflow_pulumi_decorators.outputs import check_output_names, plain_output


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


def test_a_non_ascii_output_name_is_refused_with_multiple_outputs_naming_it_and_the_fix():
    with pytest.raises(ReservedOutputNameError, match="stack output 'bücket' has a name that is not ASCII") as caught:
        check_output_names(["ok", "bücket"], multiple_outputs=True)
    assert caught.value.key == "bücket"
    assert "{'bcket': ...}" in str(caught.value) and "multiple_outputs=False" in str(caught.value)
    check_output_names(["bücket"], multiple_outputs=False)  # inside return_value it is JSON text
