"""``count`` random pets, and one operation on them: ``up``, ``drift_check`` or a preview-only ``refresh``
(``test_lifecycle.py``)."""

import pendulum
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)


@pulumi_stack(project="pets", stack="dev", pulumi_command=ENGINE)
def pets(count: int):
    import pulumi_random as random

    made = [random.RandomPet(f"p{i}", length=2) for i in range(count)]
    return {"count": len(made)}


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    operation, count = PARAMS.get("operation", "up"), PARAMS.get("count", 2)
    if operation == "drift_check":
        pets.drift_check(count=count)
    elif operation == "refresh_preview_only":
        pets.override(preview_only=True).refresh(count=count)
    else:
        pets(count=count)


the_dag = d()
