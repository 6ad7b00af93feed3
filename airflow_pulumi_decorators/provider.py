"""Airflow provider metadata (entry point ``apache_airflow_provider``).

Loaded by every Airflow process during configuration: it must not import ``airflow.sdk``, Pulumi or
google-auth.
"""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    """Describe this package to Airflow's ProvidersManager."""
    from airflow_pulumi_decorators import __version__

    return {
        "package-name": "airflow-pulumi-decorators",
        "name": "Pulumi decorators",
        "description": "Run Pulumi inline programs as Airflow tasks with short-lived cloud credentials.",
        "versions": [__version__],
        "task-decorators": [
            {"name": "pulumi_stack", "class-name": "airflow_pulumi_decorators.decorators.pulumi_stack"},
        ],
        "config": {
            "pulumi": {
                "description": "airflow-pulumi-decorators: how workers run the Pulumi engine.",
                "options": {
                    "cli_path": {
                        "description": "Path to the `pulumi` executable (or its folder). Empty: search PATH, "
                        "then ~/.pulumi/bin.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "/opt/pulumi/bin/pulumi",
                        "default": "",
                    },
                    "credential_budget": {
                        "description": "Seconds a task's Google Cloud token must stay valid when the task "
                        "has no execution_timeout. Empty: no lifetime check without execution_timeout.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "3600",
                        "default": "",
                    },
                    "backend_url": {
                        "description": "Default Pulumi backend when neither the Environment nor "
                        "PULUMI_BACKEND_URL names one. Empty: a local file:// backend under "
                        "$AIRFLOW_HOME/pulumi/state.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "gs://my-bucket/pulumi",
                        "default": "",
                    },
                },
            }
        },
    }
