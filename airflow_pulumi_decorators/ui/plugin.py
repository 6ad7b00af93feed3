"""``PulumiPlugin``: the Airflow plugin of the Pulumi view, registered with the ``airflow.plugins`` entry point.

- ``fastapi_apps``: the view's app (:mod:`.app`) under ``/pulumi`` of the api-server;
- ``external_views``: "Pulumi stacks" in the navigation (Browse), and a "Pulumi" tab on every task instance
  (its page says when the task is no stack task).

Every Airflow process loads plugins: importing this module loads neither FastAPI nor the database models.
"""

from __future__ import annotations

from typing import Any

from airflow_pulumi_decorators._airflow import plugin_base
from airflow_pulumi_decorators.ui.app import LazyApp
from airflow_pulumi_decorators.ui.urls import URL_PREFIX


class PulumiPlugin(plugin_base()):  # type: ignore[misc]
    """The Pulumi view: stacks, stack and task pages, in Airflow's UI."""

    name = "pulumi"
    fastapi_apps: list[dict[str, Any]] = [
        {"app": LazyApp(), "url_prefix": URL_PREFIX, "name": "Pulumi"},
    ]
    external_views: list[dict[str, Any]] = [
        {"name": "Pulumi stacks", "href": f"{URL_PREFIX}/stacks", "destination": "nav", "category": "browse",
         "url_route": "pulumi-stacks"},
        {"name": "Pulumi", "href": f"{URL_PREFIX}/ti/{{DAG_ID}}/{{RUN_ID}}/{{TASK_ID}}/{{MAP_INDEX}}",
         "destination": "task_instance", "url_route": "pulumi-task"},
    ]
