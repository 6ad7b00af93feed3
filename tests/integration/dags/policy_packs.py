"""An ``up`` under the policy pack ``pack`` with the configuration ``config`` (paths); the pet's length is
the DAG param ``length`` (``test_lifecycle.py``)."""

import pendulum
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1), params={"length": 2})
def d():
    @pulumi_stack(project="guarded", stack="dev", pulumi_command=ENGINE,
                  policy_packs=[PARAMS.get("pack", "policies/guard")],
                  policy_pack_configs=[PARAMS.get("config", "policies/guard-config.json")])
    def guarded(params=None):
        import pulumi_random as random

        return {"id": random.RandomPet("pet", length=params["length"]).id}

    guarded()


the_dag = d()
