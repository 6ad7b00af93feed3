"""Two DAGs in one file, for ``DagRunner.run_file`` picking one (``tests/testing/test_dagrun.py``)."""

import pendulum
from airflow.sdk import DAG

from airflow_pulumi_decorators import pulumi_stack


@pulumi_stack(project="from-file", stack="dev")
def named(prefix: str):
    from airflow_pulumi_decorators.testing.resources import FakeName
    return {"name": FakeName("n", prefix=prefix).name}

with DAG("apd_from_file_a", schedule=None, start_date=pendulum.datetime(2026, 1, 1)) as a:
    named("a")
with DAG("apd_from_file_b", schedule=None, start_date=pendulum.datetime(2026, 1, 1)) as b:
    named("b")
