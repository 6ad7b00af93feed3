"""What Airflow's ProvidersManager sees: the `pulumi` connection type, its form, the `[pulumi]` section."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema

from airflow_pulumi_decorators.provider import get_provider_info
from airflow_pulumi_decorators.settings import OPTIONS

SITE = Path(jsonschema.__file__).resolve().parents[1]


def test_provider_info_is_valid_for_airflow():
    info = get_provider_info()
    jsonschema.validate(info, json.loads((SITE / "airflow" / "provider_info.schema.json").read_text()))
    yaml_schema = json.loads((SITE / "airflow" / "provider.yaml.schema.json").read_text())
    jsonschema.validate(
        {"connection-types": info["connection-types"]},
        {"type": "object", "properties": {"connection-types": yaml_schema["properties"]["connection-types"]}},
    )
    assert set(info["config"]["pulumi"]["options"]) == {o.name for o in OPTIONS}


def test_providers_manager_registers_connection_type_form_and_config(tmp_path):
    """In a fresh process (ProvidersManager is a singleton): hook, form, fields, config defaults, no warnings."""
    script = textwrap.dedent(
        """
        import json, warnings
        from airflow.api_fastapi.core_api.services.public.providers import _provider_mapper
        from airflow.providers_manager import ProvidersManager
        pm = ProvidersManager()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            hook = pm.hooks["pulumi"]
            behaviour = pm.field_behaviours["pulumi"]
        # e.g. the deprecated hook-method form of the UI behaviour would warn about our hook
        ours = [str(w.message) for w in caught if "ulumi" in str(w.message)]
        from airflow.configuration import conf
        print(json.dumps({
            "hook": [hook.hook_class_name, hook.connection_id_attribute_name, hook.hook_name, hook.connection_testable],
            "behaviour": behaviour,
            "warnings": ours,
            "widgets": sorted(k for k in pm.connection_form_widgets if k.startswith("extra__pulumi__")),
            "sensitive": [
                k for k, v in pm.connection_form_widgets.items() if k.startswith("extra__pulumi__") and v.is_sensitive
            ],
            "config": {k: conf.get("pulumi", k) for k in ("pulumi_home", "plugins", "install_cli", "cli_path")},
            # What the Providers page links the package to (the UI falls back to airflow.apache.org without it).
            "docs_url": _provider_mapper(pm.providers["airflow-pulumi-decorators"]).documentation_url,
        }))
        """
    )
    env = {"AIRFLOW_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["hook"] == ["airflow_pulumi_decorators.hooks.PulumiHook", "pulumi_conn_id", "Pulumi", True]
    assert seen["warnings"] == []
    assert seen["behaviour"]["hidden_fields"] == ["schema", "port"]
    assert seen["behaviour"]["relabeling"] == {
        "host": "Backend URL",
        "login": "Organization",
        "password": "Access token",
    }
    assert seen["widgets"] == ["extra__pulumi__config_passphrase", "extra__pulumi__encryption_provider"]
    assert seen["sensitive"] == ["extra__pulumi__config_passphrase"]
    assert seen["config"] == {"pulumi_home": "per_task", "plugins": "auto", "install_cli": "False", "cli_path": ""}
    assert seen["docs_url"] == _site_url() and seen["docs_url"].startswith("https://")


def _site_url() -> str:
    """The documentation's address, as the MkDocs build knows it (``site_url``)."""
    lines = (Path(__file__).resolve().parents[1] / "mkdocs.yml").read_text().splitlines()
    (url,) = [line.split(":", 1)[1].strip() for line in lines if line.startswith("site_url:")]
    return url
