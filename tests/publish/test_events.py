"""The asset event of an ``up`` (:mod:`airflow_pulumi_decorators.publish.events`): the stack's asset on the
project's alias outlet, with an extra that carries output keys and counts, never values."""

from __future__ import annotations

import json
from types import SimpleNamespace

from airflow.sdk import Asset, AssetAlias

from airflow_pulumi_decorators.assets import stack_alias
from airflow_pulumi_decorators.publish.events import emit_stack_event, event_extra


def _result(**outputs: tuple[object, bool]) -> SimpleNamespace:
    """What an ``up`` returns, as far as the asset event reads it (outputs as ``(value, secret)``)."""
    return SimpleNamespace(
        operation="up", stack="prod", version=4, changes={"create": 1, "same": 2}, has_changes=True,
        outputs={key: SimpleNamespace(value=value, secret=secret) for key, (value, secret) in outputs.items()},
    )


def test_event_extra_names_output_keys_and_counts_never_values():
    result = _result(vpc=("vpc-1", False), token=("asset-secret-3e1f", True))
    extra = event_extra("network", result)
    assert extra == {
        "project": "network", "stack": "prod", "operation": "up", "version": 4,
        "changes": {"create": 1, "same": 2}, "has_changes": True,
        "output_keys": ["token", "vpc"], "secret_output_keys": ["token"],
    }
    assert "asset-secret-3e1f" not in json.dumps(extra) and "vpc-1" not in json.dumps(extra)
    extra["changes"]["create"] = 9
    assert result.changes["create"] == 1  # a copy: the event cannot change the result


def test_emit_adds_the_stack_asset_to_the_projects_alias_outlet_and_logs_it():
    added: list[tuple[Asset, dict]] = []

    class Outlet:
        def add(self, asset, extra):
            added.append((asset, extra))

    outlets: dict[AssetAlias, Outlet] = {stack_alias("network"): Outlet()}
    logged: list[str] = []
    emit_stack_event({"outlet_events": outlets}, "network", _result(vpc=("vpc-1", False)), log=logged.append)
    assert [(asset.uri, extra["output_keys"]) for asset, extra in added] == [("pulumi://network/prod", ["vpc"])]
    assert logged == ["pulumi: asset event pulumi://network/prod (output keys: vpc)"]
    emit_stack_event({"outlet_events": outlets}, "network", _result(), log=logged.append)
    assert logged[-1] == "pulumi: asset event pulumi://network/prod (output keys: -)"
