"""The stack the Pulumi view's tests show (``tests/ui``): an ``up`` with a plain and a secret output and two
resources, a drift check (no drift), then a preview that changes the image (an update). With ``hold`` the
``up`` sleeps that many seconds in a resource first (the browser test sees the running task hold the lock)."""

import pendulum
import pulumi
from airflow.sdk import dag

from airflow_pulumi_decorators import Environment, pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
SECRET = PARAMS.get("secret", "ui-secret-value")
HOLD = float(PARAMS.get("hold", 0))
ENVIRONMENTS = {"dev": Environment(stack=PARAMS.get("stack", "dev"))}


@pulumi_stack(project=PARAMS.get("project", "web"), environments=ENVIRONMENTS, pulumi_command=pulumi_command(PARAMS))
def site(image: str, hold: float):
    from airflow_pulumi_decorators.testing.resources import Settings, Sleep

    deps = [Sleep("hold", seconds=hold)] if hold else []
    svc = Settings("site", region="eu", image=image, replicas=2, opts=pulumi.ResourceOptions(depends_on=deps))
    Settings("cache", region="eu", image="redis:7")
    return {"endpoint": "https://web.internal", "image": svc.image, "api_key": pulumi.Output.secret(SECRET)}


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    up = site(PARAMS.get("image", "web:1.0"), HOLD)
    check = site.drift_check(PARAMS.get("image", "web:1.0"), 0, fail_on_drift=False)
    plan = site.preview(PARAMS.get("next_image", "web:2.0"), 0)
    up >> check >> plan


the_dag = d()
