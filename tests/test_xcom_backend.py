"""``PulumiSecretXCom``: Airflow's XCom, plus references resolved when a task reads them."""

from __future__ import annotations

import pytest

from airflow_pulumi_decorators import SecretOutputWithheldError, secret_outputs
from airflow_pulumi_decorators.outputs import REF_MARKER, withheld_output
from airflow_pulumi_decorators.xcom_backend import PulumiSecretXCom
from tests.test_import_cost import _heavy_after


class Stored:
    """What the Task SDK hands ``deserialize_value``: the stored value."""

    def __init__(self, value):
        self.value = value


@pytest.fixture
def resolved(monkeypatch) -> list:
    seen: list = []

    def fake(value, **_):
        seen.append(value)
        return "resolved"

    monkeypatch.setattr(secret_outputs, "resolve_references", fake)
    return seen


def test_values_without_a_reference_are_airflows_own(resolved):
    for value in ({"bucket": "raw"}, [1, "a"], "text", 3, None):
        assert PulumiSecretXCom.deserialize_value(Stored(value)) == value
    assert resolved == []


def test_a_value_with_a_reference_anywhere_is_resolved(resolved):
    ref = {REF_MARKER: 1, "project": "p", "stack": "s", "key": "k"}
    assert PulumiSecretXCom.deserialize_value(Stored({"a": [ref]})) == "resolved"
    assert resolved == [{"a": [ref]}]


def test_a_withheld_secret_output_read_on_its_own_fails_naming_the_fix():
    marker = withheld_output("warehouse", "dev", "password")
    fix = r"'password' of stack warehouse/dev.*secret_outputs=\"reference\""
    with pytest.raises(SecretOutputWithheldError, match=fix):
        PulumiSecretXCom.deserialize_value(Stored(marker))


def test_a_dict_holding_a_withheld_output_reaches_the_task_with_the_marker_in_its_place():
    """The producer's whole ``return_value``: its plain outputs stay usable; the marker is no string to misuse."""
    value = {"bucket": "raw", "password": withheld_output("warehouse", "dev", "password")}
    assert PulumiSecretXCom.deserialize_value(Stored(value)) == value


def test_it_is_an_airflow_xcom_backend():
    from airflow.sdk.bases.xcom import BaseXCom

    assert issubclass(PulumiSecretXCom, BaseXCom)


def test_importing_the_xcom_backend_loads_no_heavy_module():
    """Every worker imports it (``[core] xcom_backend``); resolving is imported on first use only."""
    assert _heavy_after("import airflow_pulumi_decorators.xcom_backend") == []
