"""A stack reads another stack's outputs through ``pulumi.StackReference`` in the same backend
(``test_scenarios.py``): the producer's plain and secret outputs reach the consumer's program."""

import pendulum
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="network", stack="dev", pulumi_command=ENGINE)
    def network():
        import pulumi

        from airflow_pulumi_decorators.testing.resources import FakeName

        return {"network": FakeName("vpc", prefix="net").name, "token": pulumi.Output.secret(PARAMS["token"])}

    @pulumi_stack(project="cluster", stack="dev", pulumi_command=ENGINE)
    def cluster():
        import pulumi

        ref = pulumi.StackReference("organization/network/dev")
        token = ref.get_output("token")  # still secret in this stack
        matches = pulumi.Output.unsecret(token.apply(lambda value: value == PARAMS["token"]))
        return {"network": ref.get_output("network"), "token": token, "token_matches": matches}

    network() >> cluster()


the_dag = d()
