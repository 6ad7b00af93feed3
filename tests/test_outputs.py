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


@pytest.mark.parametrize("name", ["return_value", "pulumi_summary", "pulumi_target", "skipmixin_key",
                                  "_link_PulumiUpdateLink", "_link_PulumiStackLink"])
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


# -- secret outputs as references ----------------------------------------------------------------------------

from airflow_pulumi_decorators.errors import SecretReferenceError  # noqa: E402
from airflow_pulumi_decorators.outputs import (  # noqa: E402
    REF_MARKER,
    SecretOutputRef,
    has_secret,
    is_secret_reference,
    public_backend_url,
    secret_parts,
)


def test_a_reference_round_trips_through_its_xcom_form_and_is_recognised():
    ref = SecretOutputRef(project="p", stack="org/p/dev", key="token", backend="gs://b/state", environment="prod",
                          pulumi_conn_id="pulumi_prod", dag_id="d", task_id="t")
    value = ref.to_xcom()
    assert value[REF_MARKER] == 1 and is_secret_reference(value) and not is_secret_reference({"key": "token"})
    assert SecretOutputRef.from_xcom(value) == ref
    assert "task 't' of DAG 'd'" == ref.producer


@pytest.mark.parametrize("url, public", [
    ("file:///srv/state", "file:///srv/state"),
    ("gs://bucket/prefix", "gs://bucket/prefix"),
    ("https://user:token@api.pulumi.com", "https://api.pulumi.com"),
    ("s3://bucket/p?region=eu-west-1&profile=x", "s3://bucket/p"),
    ("http://127.0.0.1:8080/api", "http://127.0.0.1:8080/api"),
    (None, None),
])
def test_the_backend_a_reference_names_carries_no_user_info_or_query(url, public):
    assert public_backend_url(url) == public


def test_only_the_secret_parts_of_a_value_are_masked():
    masked = {"host": "db.internal", "password": "[secret]", "replicas": ["a", "[secret]"]}
    plain = {"host": "db.internal", "password": "pw-123456", "replicas": ["a", {"k": "nested-77"}]}
    assert set(secret_parts(masked, plain)) == {"pw-123456", "nested-77", '{"k": "nested-77"}'}
    assert has_secret(masked) and not has_secret({"host": "db.internal"})
    assert list(secret_parts("[secret]", "whole-value")) == ["whole-value"]


def test_a_reference_from_another_version_is_refused_with_the_fix():
    with pytest.raises(SecretReferenceError, match="install the same version"):
        SecretOutputRef.from_xcom({REF_MARKER: 99, "project": "p", "stack": "s", "key": "k"})
