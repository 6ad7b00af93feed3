"""The Pulumi Cloud extra link on the operator (its URLs are tested in test_operations.py)."""

import pendulum
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from airflow_pulumi_decorators.links import PulumiUpdateLink


def test_operator_carries_the_link_and_the_dag_serializes_with_it():
    from airflow.serialization.serialized_objects import DagSerialization

    @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))
    def linked():
        @pulumi_stack(project="infra", stack="acme/dev")
        def infra():
            return {}

        infra()

    the_dag = linked()
    op = the_dag.get_task("infra")
    assert any(isinstance(link, PulumiUpdateLink) for link in op.operator_extra_links)
    restored = DagSerialization.from_dict(DagSerialization.to_dict(the_dag))
    assert "Pulumi update" in restored.get_task("infra").extra_links
