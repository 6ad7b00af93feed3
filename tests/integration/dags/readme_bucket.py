"""The README's example, a GCS bucket (``test_dag_runs.py``; the stand-in returns inputs as outputs)."""

import pendulum
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="storage", stack="dev", pulumi_command=ENGINE)
    def storage(region: str):
        import pulumi_gcp as gcp

        # The stand-in returns inputs as outputs, so the name is given (a real provider would auto-name it).
        bucket = gcp.storage.Bucket("raw", name=f"acme-raw-{region.lower()}", location=region)
        return {"bucket": bucket.name, "location": bucket.location, "region": region}

    storage(region="EU")


the_dag = d()
