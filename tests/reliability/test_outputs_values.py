"""Output values that are not plain JSON, and output names that are XCom keys the task already uses, on
every engine: each engine must give the task the same XCom, or the same error.

Without the checks, the engines disagreed (bytes became a list of ints everywhere, NaN failed on the
stand-ins but came back from the real CLI as an internal sentinel dict, 2**70 came back as an inexact
float from the real CLI only) and a ``pulumi_summary`` output silently replaced the task's summary.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

#: The DAG files of these runs; ``output_values`` returns the value of each task below.
DAGS = "reliability/dags/"

#: task id -> the XCom value expected.
CONVERTED = {
    "tuple": [1, "a"],
    "set": [1, 2, 3],
    "frozenset": ["a", "b"],
    "nested": {"a": [1, {"b": [2, [3, 4]]}], "c": None},
    "applied_set": [1, 2],
    "inside_output": None,  # checked below: a list of lists
    "big_ok": 2**53,
    "float": 1.5,
}

#: task id -> (the error's words expected: what the value is, how to fix it).
REFUSED = {
    "bytes": ("stack output 'v' is a bytes", "decode it"),
    "datetime": ("is a datetime.datetime", "isoformat()"),
    "date": ("is a datetime.date", "isoformat()"),
    "decimal": ("is a decimal.Decimal", "str(value) to keep every digit"),
    "custom": ("is a t_values_mod.Obj", "dataclasses.asdict"),
    "nan": ("is nan, which JSON cannot hold", "None or a string"),
    "bigint": ("an integer beyond ±2**53", "return str(value)"),
    "intkey": ("at ['m'][1] is a dict key of type int", "str(key)"),
    "nested_bytes": ("at ['a'][1]['b'] is a bytes", "decode it"),
    "unsortable": ("cannot be sorted", "return a list"),
    "applied_date": ("is a datetime.date", "isoformat()"),
}


@pytest.fixture
def values_run(run_dag_file, engine):
    return run_dag_file(DAGS + "output_values", engine=engine, dag_id="t_values_mod")


def test_lossless_values_are_converted_the_same_on_every_engine(values_run, engine):
    for name, expected in CONVERTED.items():
        assert values_run.task_states[name] == "success", (name, values_run.output[-3000:])
        value = values_run.xcom(name)["v"]
        if name == "inside_output":
            assert isinstance(value["ids"][0], list) and len(value["ids"][0]) == 2, value
            continue
        assert value == expected, (name, value)
        assert type(value) is type(expected), (name, value)


def test_values_without_a_lossless_json_form_are_refused_naming_key_path_and_fix(values_run, engine):
    for name in REFUSED:
        assert values_run.task_states[name] == "failed", name
    errors = [line for line in values_run.output.splitlines() if "OutputValueError:" in line]
    for name, (what, fix) in REFUSED.items():
        found = [line for line in errors if what in line and fix in line]
        assert found, (name, what, errors, [line for line in values_run.output.splitlines() if "Error" in line][-30:])
    assert "ProgramError" not in values_run.output  # the typed error, not a generic program failure


def test_output_names_that_are_the_tasks_own_xcom_keys_are_refused(run_dag_file, engine):
    result = run_dag_file(DAGS + "reserved_output_names", engine=engine)
    states = result.task_states
    assert states["summary_named"] == "failed" and states["return_named"] == "failed"
    assert states["exported"] == "failed"
    text = result.output
    assert (
        "ReservedOutputNameError: stack output 'pulumi_summary' has the name of an XCom the task already pushes" in text
    )
    assert "ReservedOutputNameError: stack output 'return_value'" in text
    assert "ReservedOutputNameError: stack output '_link_PulumiUpdateLink'" in text
    assert "Rename the output" in text and "multiple_outputs=False" in text
    # Refused before the update: nothing was deployed, no output pushed.
    assert "ok" not in result.xcoms.get("summary_named", {})
    # Inside return_value (multiple_outputs=False) any name is fine, and the summary is intact.
    assert states["single"] == "success", text[-3000:]
    assert result.xcom("single") == {"pulumi_summary": 1}
    assert result.xcom("single", "pulumi_summary")["operation"] == "up"


def test_declared_outputs_without_a_value_are_warned_about_on_every_engine(run_dag_file, engine):
    result = run_dag_file(DAGS + "missing_outputs", engine=engine)
    assert result.state == "success", result.output[-3000:]
    text = result.output
    assert "stack output 'none'" in text and "stack output 'later_none'" in text, text[-3000:]
    assert "downstream tasks reading it get None" in text
    assert "stack output 'ok'" not in text
    # Each key stays, with None: the consumer reads None, and no "XCom not found" error is logged.
    assert result.xcom("infra") == {"ok": 0.01, "none": None, "later_none": None}
    assert "load got ok=0.01 none=None" in text
    assert "XCom not found" not in text
