"""A stack whose state is in the ``gs://`` backend ``backend``, deployed as the service account ``sa``
impersonated over workload identity federation (``config``, ``iam`` endpoint) in credential mode ``mode``;
a downstream task reads its output (``test_gcs_backend.py``)."""

import pendulum
from airflow.sdk import dag, task

from airflow_pulumi_decorators import Environment, pulumi_stack
from airflow_pulumi_decorators.identity import ServiceAccountImpersonation, WorkloadIdentityFederation
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)
SOURCE = (WorkloadIdentityFederation(PARAMS["config"]) if "config" in PARAMS
          else WorkloadIdentityFederation(credential_config_file="/var/run/apd/credential-config.json"))
IDENTITY = ServiceAccountImpersonation(
    PARAMS.get("sa", "deployer@acme-prod.iam.gserviceaccount.com"), source=SOURCE,
    **({"iam_endpoint": PARAMS["iam"]} if "iam" in PARAMS else {}),
)
ENVS = {"dev": Environment(stack="dev", backend_url=PARAMS.get("backend", "gs://apd-state/airflow"), identity=IDENTITY,
                           credential_mode=PARAMS.get("mode", "token"), config={"gcp:project": "acme-dev"})}


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project=PARAMS.get("project", "gcsstate"), environments=ENVS, pulumi_command=ENGINE)
    def infra(prefix: str):
        from airflow_pulumi_decorators.testing.resources import FakeName

        dataset = FakeName("dataset", prefix=prefix, length=2, separator="_")
        return {"dataset": dataset.name}

    @task
    def load(dataset: str):
        return "loaded " + dataset

    load(infra(prefix="raw")["dataset"])


the_dag = d()
