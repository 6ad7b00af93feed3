"""The program every engine runs for the property-diff test (``test_property_diffs.py``), in three runs
(``phase``): ``first`` creates two ``Settings``; ``second`` changes a string, a number, a nested dict, a list
and the secret password of one and drops the other (preview → approval → up); ``third`` changes the region,
which replaces it."""

import pendulum
import pulumi
from airflow.sdk import dag

from airflow_pulumi_decorators import Environment, pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
PHASE = PARAMS.get("phase", "first")
#: The password of each phase: the test searches for it everywhere a user could see it.
PASSWORD = PARAMS.get("password", "pw") + "-" + PHASE
VALUES = {
    "first": {"region": "eu", "image": "api:1.4.2", "replicas": 2,
              "scaling": {"min": 1, "max": 3, "cpu": {"target": 60}}, "members": ["a", "b"], "extra": True},
    "second": {"region": "eu", "image": "api:1.5.0", "replicas": 3,
               "scaling": {"min": 1, "max": 5, "cpu": {"target": 70}}, "members": ["a", "c", "d"], "extra": False},
    "third": {"region": "us", "image": "api:1.5.0", "replicas": 3,
              "scaling": {"min": 1, "max": 5, "cpu": {"target": 70}}, "members": ["a", "c", "d"], "extra": False},
}[PHASE]


# The password reaches the program as a user's secret would: secret config, never a task argument.
ENVIRONMENTS = {"prod": Environment(stack="prod", protected=True, secret_config={"svc:password": PASSWORD})}


@pulumi_stack(project="diffs", environments=ENVIRONMENTS, pulumi_command=pulumi_command(PARAMS))
def svc(values: dict):
    from airflow_pulumi_decorators.testing.resources import Settings

    password = pulumi.Config("svc").require_secret("password")
    main = Settings("svc", region=values["region"], image=values["image"], replicas=values["replicas"],
                    scaling=values["scaling"], members=values["members"], password=password)
    if values["extra"]:
        Settings("old", region="eu", image="worker:1")
    return {"id": main.id}


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    svc.with_approval(VALUES, approval={"subject": "Deploy svc to prod?"})


the_dag = d()
