"""A task whose environment's identity is workload identity federation with the external account
configuration ``config``, under an ``execution_timeout`` of ``timeout`` seconds."""

import pendulum
from airflow.sdk import dag

from airflow_pulumi_decorators import Environment, pulumi_stack
from airflow_pulumi_decorators.identity import WorkloadIdentityFederation
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)
IDENTITY = (WorkloadIdentityFederation(PARAMS["config"]) if "config" in PARAMS
            else WorkloadIdentityFederation(credential_config_file="/var/run/apd/credential-config.json"))
ENVS = {"dev": Environment(stack="dev", identity=IDENTITY)}


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="tok", environments=ENVS, pulumi_command=ENGINE,
                  execution_timeout=pendulum.duration(seconds=PARAMS.get("timeout", 20)))
    def tok():
        return {"ok": 1}

    tok()


the_dag = d()
