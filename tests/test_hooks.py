"""``PulumiHook`` (:mod:`airflow_pulumi_decorators.hooks`): the connection form and "Test connection"."""

from __future__ import annotations

import json


def test_hook_validates_without_network(monkeypatch):
    from airflow_pulumi_decorators.hooks import PulumiHook

    monkeypatch.setenv("AIRFLOW_CONN_PULUMI_OK", json.dumps({"conn_type": "pulumi", "host": "gs://b/p"}))
    monkeypatch.setenv("AIRFLOW_CONN_PULUMI_BAD", json.dumps({"conn_type": "pulumi", "host": "gs:/b"}))
    assert PulumiHook("pulumi_ok").test_connection() == (True, "valid pulumi connection; backend gs://b/p")
    ok, message = PulumiHook("pulumi_bad").test_connection()
    assert not ok and "field 'host' (Backend URL)" in message
    assert PulumiHook.get_ui_field_behaviour()["relabeling"]["password"] == "Access token"


def test_testing_a_connection_with_the_old_provider_extra_tells_the_admin_to_rename_it(monkeypatch):
    from airflow_pulumi_decorators.hooks import PulumiHook

    old = {"conn_type": "pulumi", "host": "gs://b/p", "extra": {"secrets_provider": "passphrase"}}
    monkeypatch.setenv("AIRFLOW_CONN_PULUMI_OLD", json.dumps(old))
    ok, message = PulumiHook("pulumi_old").test_connection()
    assert ok and message.startswith("valid pulumi connection; backend gs://b/p; ")
    assert "Rename it to 'encryption_provider'" in message
