"""preview → approval → up bound to the approved plan (``test_plan_binding.py``). The program's input and the
stack config are read from Airflow Variables when the tasks start, so a test can change them between the
preview and the approval; the file of ``conf`` lives outside the state, so a test can change it out of band (the
``up`` refreshes first, and so sees it)."""

import pendulum
import pulumi
from airflow.sdk import dag

from airflow_pulumi_decorators import Environment, pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
VAR = PARAMS.get("var_prefix", "apd_plan")
ENVIRONMENTS = {"prod": Environment(
    stack="prod", protected=True,
    config={"svc:tier": "{{ var.value.get('" + VAR + "_tier', 'gold') }}"},
    secret_config={"svc:password": "{{ var.value.get('" + VAR + "_password', 'pw') }}"},
)}


@pulumi_stack(project="bound", environments=ENVIRONMENTS, pulumi_command=pulumi_command(PARAMS), refresh=True)
def svc(image: str, path: str):
    from airflow_pulumi_decorators.testing.resources import LocalFile, Settings

    config = pulumi.Config("svc")
    main = Settings("svc", region="eu", image=image, replicas=2, scaling={"tier": config.require("tier")},
                    password=config.require_secret("password"))
    LocalFile("conf", path=path, content="v1")
    return {"id": main.id}


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    svc.with_approval("{{ var.value.get('" + VAR + "_image', 'api:1') }}", PARAMS.get("path", "/tmp/apd-conf"),
                      approval={"subject": "Deploy svc to prod?"}, strict_plan=PARAMS.get("strict", False))


the_dag = d()
