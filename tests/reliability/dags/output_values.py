"""One task per output value that is not plain JSON, each returning ``{"v": <value>}`` in a stack of its
own (``test_outputs_values.py`` says what each becomes or how it is refused). Run as ``t_values_mod``: an
error names the class :class:`Obj` by that module."""

import datetime
import decimal

import pendulum
import pulumi
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)


class Obj:
    def __init__(self):
        self.a = 1


#: task id -> the value, made inside the program (``first`` is a resource of it).
VALUES = {
    # converted without loss
    "tuple": lambda first: (1, "a"),
    "set": lambda first: {3, 1, 2},
    "frozenset": lambda first: frozenset({"b", "a"}),
    "nested": lambda first: {"a": [1, {"b": (2, {4, 3})}], "c": None},
    "applied_set": lambda first: pulumi.Output.from_input(2).apply(lambda v: {v, 1}),
    "inside_output": lambda first: {"ids": [first.id.apply(lambda v: (v, v))]},
    "big_ok": lambda first: 2**53,
    "float": lambda first: 1.5,
    # refused
    "bytes": lambda first: b"ab",
    "datetime": lambda first: datetime.datetime(2026, 1, 2, 3, 4, 5),
    "date": lambda first: datetime.date(2026, 1, 2),
    "decimal": lambda first: decimal.Decimal("1.10"),
    "custom": lambda first: Obj(),
    "nan": lambda first: float("nan"),
    "bigint": lambda first: 2**70,
    "intkey": lambda first: {"m": {1: "a"}},
    "nested_bytes": lambda first: {"a": [1, {"b": b"x"}]},
    "unsortable": lambda first: {1, "a"},
    "applied_date": lambda first: pulumi.Output.from_input(1).apply(lambda v: datetime.date(2026, 1, v)),
}


def value_task(name, value):
    @pulumi_stack(project="values", stack=name, pulumi_command=ENGINE, task_id=name, multiple_outputs=False)
    def program():
        from airflow_pulumi_decorators.testing.resources import Sleep

        first = Sleep("first", seconds=0.01)
        return {"v": value(first)}

    program()


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    for name, value in VALUES.items():
        value_task(name, value)


the_dag = d()
