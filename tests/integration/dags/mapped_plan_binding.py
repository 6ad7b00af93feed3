"""A preview and an ``up`` both mapped over regions, the ``up`` bound to the preview (``approved_plan``): each map
index compares with the preview's same map index (``test_plan_binding.py``). The program's input differs per
region, so binding the wrong index would refuse; ``REGION_<i>`` in the Variable ``<prefix>_changed`` changes one
region's image between the preview and the up."""

import pendulum
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
REGIONS = ["eu", "us", "asia"]
IMAGE = "{{ 'api:2' if ti.task_id == 'regional' and var.value.get('" + PARAMS.get("var", "apd_mapped") + \
    "', '') == ti.map_index | string else 'api:1' }}"


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="regions_bound", stack="r{{ ti.map_index }}", pulumi_command=pulumi_command(PARAMS))
    def regional(region: str, image: str):
        from airflow_pulumi_decorators.testing.resources import Settings

        return {"id": Settings("svc", region=region, image=image).id}

    plan = regional.override(operation="preview", task_id="regional_preview").partial(image=IMAGE).expand(
        region=REGIONS)
    up = regional.override(approved_plan="regional_preview").partial(image=IMAGE).expand(region=REGIONS)
    plan >> up


the_dag = d()
