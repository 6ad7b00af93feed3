"""The plugin as Airflow loads it (the ``airflow.plugins`` entry point) and what loading it costs."""

from __future__ import annotations

import subprocess
import sys

from airflow_pulumi_decorators.ui.plugin import PulumiPlugin


def test_airflow_loads_the_plugin_from_its_entry_point_with_the_app_and_the_views():
    from airflow import plugins_manager

    [info] = [p for p in plugins_manager.get_plugin_info() if p["name"] == "pulumi"]
    assert "airflow_pulumi_decorators.ui.plugin" in str(info["source"])
    apps, _ = plugins_manager.get_fastapi_plugins()
    assert [a["url_prefix"] for a in apps if a["name"] == "Pulumi"] == ["/pulumi"]
    views = {v["url_route"]: v for v in info["external_views"]}
    assert views["pulumi-stacks"]["destination"] == "nav" and views["pulumi-stacks"]["href"] == "/pulumi/stacks"
    # The UI fills the task instance's ids into the tab's address.
    assert views["pulumi-task"] == {**views["pulumi-task"], "destination": "task_instance",
                                    "href": "/pulumi/ti/{DAG_ID}/{RUN_ID}/{TASK_ID}/{MAP_INDEX}"}


def test_importing_the_plugin_builds_no_app_and_loads_no_web_framework_or_engine():
    code = ("import sys, airflow_pulumi_decorators.ui.plugin as p\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'pulumi', 'grpc')"
            " or m.startswith('google.auth')))\n"
            "print(p.PulumiPlugin.fastapi_apps[0]['app']._app)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-2:] == ["[]", "None"]


def test_the_plugin_is_named_as_its_entry_point():
    assert PulumiPlugin.name == "pulumi"
