"""Output values that are not plain JSON, and output names that are XCom keys the task already uses, on
every engine: each engine must give the task the same XCom, or the same error.

Without the checks, the engines disagreed (bytes became a list of ints everywhere, NaN failed on the
stand-ins but came back from the real CLI as an internal sentinel dict, 2**70 came back as an inexact
float from the real CLI only) and a ``pulumi_summary`` output silently replaced the task's summary.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

#: task id -> (the returned expression, the XCom value expected, or the error's words expected).
CONVERTED = {
    "tuple": ("(1, 'a')", [1, "a"]),
    "set": ("{3, 1, 2}", [1, 2, 3]),
    "frozenset": ("frozenset({'b', 'a'})", ["a", "b"]),
    "nested": ("{'a': [1, {'b': (2, {4, 3})}], 'c': None}", {"a": [1, {"b": [2, [3, 4]]}], "c": None}),
    "applied_set": ("pulumi.Output.from_input(2).apply(lambda v: {v, 1})", [1, 2]),
    "inside_output": ("{'ids': [first.id.apply(lambda v: (v, v))]}", None),  # checked below: a list of lists
    "big_ok": ("2**53", 2**53),
    "float": ("1.5", 1.5),
}

REFUSED = {
    "bytes": ("b'ab'", "stack output 'v' is a bytes", "decode it"),
    "datetime": ("datetime.datetime(2026, 1, 2, 3, 4, 5)", "is a datetime.datetime", "isoformat()"),
    "date": ("datetime.date(2026, 1, 2)", "is a datetime.date", "isoformat()"),
    "decimal": ("decimal.Decimal('1.10')", "is a decimal.Decimal", "str(value) to keep every digit"),
    "custom": ("Obj()", "is a t_values_mod.Obj", "dataclasses.asdict"),
    "nan": ("float('nan')", "is nan, which JSON cannot hold", "None or a string"),
    "bigint": ("2**70", "an integer beyond ±2**53", "return str(value)"),
    "intkey": ("{'m': {1: 'a'}}", "at ['m'][1] is a dict key of type int", "str(key)"),
    "nested_bytes": ("{'a': [1, {'b': b'x'}]}", "at ['a'][1]['b'] is a bytes", "decode it"),
    "unsortable": ("{1, 'a'}", "cannot be sorted", "return a list"),
    "applied_date": ("pulumi.Output.from_input(1).apply(lambda v: datetime.date(2026, 1, v))",
                     "is a datetime.date", "isoformat()"),
}

SOURCE = """
import datetime, decimal

class Obj:
    def __init__(self):
        self.a = 1

@dag(dag_id="{dag_id}", schedule=None, start_date=START)
def d():
TASKS
the_dag = d()
"""

TASK = """
    @pulumi_stack(project="values", stack="{name}", pulumi_command=ENGINE, task_id="{name}", multiple_outputs=False)
    def t_{name}():
        from airflow_pulumi_decorators.testing.resources import Sleep
        first = Sleep("first", seconds=0.01)
        return {{"v": {expr}}}
    t_{name}()
"""


@pytest.fixture
def values_run(run_dag, header):
    tasks = "".join(TASK.format(name=name, expr=expr) for name, (expr, *_) in {**CONVERTED, **REFUSED}.items())
    return run_dag(header + SOURCE.replace("TASKS", tasks), dag_id="t_values_mod")


def test_lossless_values_are_converted_the_same_on_every_engine(values_run, engine):
    for name, (_, expected) in CONVERTED.items():
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
    for name, (_, what, fix) in REFUSED.items():
        found = [line for line in errors if what in line and fix in line]
        assert found, (name, what, errors)
    assert "ProgramError" not in values_run.output  # the typed error, not a generic program failure


RESERVED = """
@dag(dag_id="{dag_id}", schedule=None, start_date=START)
def d():
    @pulumi_stack(project="names", stack="a", pulumi_command=ENGINE, task_id="summary_named")
    def summary_named():
        return {"pulumi_summary": 1, "ok": 2}
    summary_named()

    @pulumi_stack(project="names", stack="b", pulumi_command=ENGINE, task_id="return_named")
    def return_named():
        return {"return_value": 1}
    return_named()

    @pulumi_stack(project="names", stack="c", pulumi_command=ENGINE, task_id="exported")
    def exported():
        pulumi.export("_link_PulumiUpdateLink", "x")  # exported directly: caught after the update
        return None
    exported()

    @pulumi_stack(project="names", stack="d", pulumi_command=ENGINE, task_id="single", multiple_outputs=False)
    def single():
        return {"pulumi_summary": 1}
    single()
the_dag = d()
"""


def test_output_names_that_are_the_tasks_own_xcom_keys_are_refused(run_dag, header, engine):
    result = run_dag(header + RESERVED)
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


MISSING = """
@dag(dag_id="{dag_id}", schedule=None, start_date=START)
def d():
    @pulumi_stack(project="missing", stack="dev", pulumi_command=ENGINE, task_id="infra")
    def infra():
        from airflow_pulumi_decorators.testing.resources import Sleep
        first = Sleep("first", seconds=0.01)
        return {"ok": first.seconds, "none": None, "later_none": first.seconds.apply(lambda _: None)}

    @task
    def load(ok, none):
        print(f"load got ok={ok!r} none={none!r}")

    out = infra()
    load(out["ok"], out["none"])
the_dag = d()
"""


def test_declared_outputs_without_a_value_are_warned_about_on_every_engine(run_dag, header, engine):
    result = run_dag(header + MISSING)
    assert result.state == "success", result.output[-3000:]
    text = result.output
    assert "stack output 'none'" in text and "stack output 'later_none'" in text, text[-3000:]
    assert "downstream tasks reading it get None" in text
    assert "stack output 'ok'" not in text
