"""Airflow provider metadata (entry point ``apache_airflow_provider``).

Loaded by every Airflow process during configuration: it must not import ``airflow.sdk``, Pulumi or
google-auth. The ``[pulumi]`` options come from :data:`airflow_pulumi_decorators.settings.OPTIONS`.
"""

from __future__ import annotations

from typing import Any

from airflow_pulumi_decorators.connections import CONN_TYPE, PROVIDER_EXTRA

#: The ``pulumi`` connection form. Declarative (Airflow >= 3.2 reads it without importing the hook);
#: :class:`~airflow_pulumi_decorators.hooks.PulumiHook` returns the same for older Airflow.
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port"],
    "relabeling": {"host": "Backend URL", "login": "Organization", "password": "Access token"},
    "placeholders": {
        "host": "gs://my-bucket/pulumi | s3://bucket/prefix | azblob://container | file:///path | "
        "https://api.pulumi.com",
        "login": "my-org (Pulumi Cloud only)",
        "password": "pul-... (Pulumi Cloud only)",
    },
}
#: The extras' names avoid the words Airflow redacts (``secret``, ``token`` ...) unless the value is a secret:
#: the secrets provider is a key's name, not a key, and an admin must be able to read it back.
CONN_FIELDS: dict[str, Any] = {
    PROVIDER_EXTRA: {
        "label": "Secrets provider",
        "description": "For new stacks: default, passphrase, gcpkms://projects/P/locations/L/keyRings/R/"
        "cryptoKeys/K, awskms://..., azurekeyvault://... or hashivault://... (formerly extra secrets_provider)",
        "schema": {"type": ["string", "null"]},
    },
    "config_passphrase": {
        "label": "Config passphrase",
        "description": "Passphrase of the passphrase secrets provider (becomes PULUMI_CONFIG_PASSPHRASE).",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
}


def get_provider_info() -> dict[str, Any]:
    """Describe this package to Airflow's ProvidersManager."""
    from airflow_pulumi_decorators import __version__
    from airflow_pulumi_decorators.settings import OPTIONS

    return {
        "package-name": "airflow-pulumi-decorators",
        "name": "Pulumi decorators",
        "description": "Run Pulumi inline programs as Airflow tasks with short-lived cloud credentials.",
        "versions": [__version__],
        "extra-links": ["airflow_pulumi_decorators.publish.links.PulumiUpdateLink"],
        "task-decorators": [
            {"name": "pulumi_stack", "class-name": "airflow_pulumi_decorators.decorators.pulumi_stack"},
        ],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                # ProvidersManager requires a hook class for every connection type.
                "hook-class-name": "airflow_pulumi_decorators.hooks.PulumiHook",
                "hook-name": "Pulumi",
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONN_FIELDS,
            }
        ],
        "config": {
            "pulumi": {
                "description": "airflow-pulumi-decorators: how workers run the Pulumi engine.",
                "options": {
                    option.name: {
                        "description": option.description,
                        "version_added": "0.1.0",
                        "type": option.type,
                        "example": option.example,
                        "default": option.default,
                    }
                    for option in OPTIONS
                },
            }
        },
    }
