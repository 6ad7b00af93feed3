"""The asset event of an ``up`` (:mod:`airflow_pulumi_decorators.publish.events`): the stack's asset on the
project's alias outlet, with an extra that carries output keys and counts, never values."""

from __future__ import annotations

import json
from types import SimpleNamespace

from airflow.sdk import Asset, AssetAlias

from airflow_pulumi_decorators.assets import stack_alias, stack_asset
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


class _Accessor:
    """One outlet's event accessor, as Airflow's: ``extra`` for a declared asset, ``add`` for an alias."""

    def __init__(self) -> None:
        self.extra: dict = {}
        self.added: list = []

    def add(self, asset, extra):
        self.added.append((asset.uri, extra))


class _Accessors(dict):
    def __missing__(self, key):
        accessor = self[key] = _Accessor()
        return accessor


def test_a_stack_declared_at_parse_time_gets_its_event_on_that_outlet_and_none_through_the_alias():
    declared = stack_asset("network", "prod")
    task = SimpleNamespace(outlets=[stack_alias("network"), declared])
    events = _Accessors()
    emit_stack_event({"outlet_events": events, "task": task}, "network", _result(vpc=("vpc-1", False)))
    assert events[declared].extra["output_keys"] == ["vpc"] and events[declared].added == []
    assert stack_alias("network") not in events  # one event per stack asset: Airflow records the declared one
    assert task.outlets == [stack_alias("network"), declared]


def test_a_stack_renamed_at_run_time_goes_through_the_alias_and_its_parse_time_asset_gets_no_event():
    """Pulumi Cloud qualifies ``prod`` with the organization: the declared ``pulumi://network/prod`` is dropped."""
    declared, own = stack_asset("network", "prod"), Asset(uri="s3://reports/x", name="reports")
    task = SimpleNamespace(outlets=[own, stack_alias("network"), declared])
    events = _Accessors()
    result = _result(vpc=("vpc-1", False))
    result.stack = "acme/network/prod"
    emit_stack_event({"outlet_events": events, "task": task}, "network", result)
    assert events[stack_alias("network")].added[0][0] == "pulumi://network/acme/network/prod"
    assert declared not in events and task.outlets == [own, stack_alias("network")]


def test_a_mapped_task_sends_its_event_through_the_alias_even_for_a_literal_stack():
    """``expand(stack=["r0", "r1"])``: the operator, and its declared asset, exist only when the task runs."""
    declared = stack_asset("network", "prod")
    task = SimpleNamespace(outlets=[stack_alias("network"), declared])
    events = _Accessors()
    context = {"outlet_events": events, "task": task, "ti": SimpleNamespace(map_index=1)}
    emit_stack_event(context, "network", _result(vpc=("vpc-1", False)))
    assert events[stack_alias("network")].added[0][0] == "pulumi://network/prod"
    assert declared not in events and task.outlets == [stack_alias("network")]


def test_drift_extra_says_drift_counts_and_the_drifted_resources_paths_never_values():
    from airflow_pulumi_decorators.publish.events import drift_extra

    result = SimpleNamespace(
        operation="preview", stack="prod", changes={"update": 1, "same": 3, "delete": 0}, has_changes=True,
        steps=[{"op": "update", "type": "t:m:R", "name": "conf", "urn": "urn:pulumi:prod::p::t:m:R::conf",
                "diff": [{"path": "content", "kind": "update", "old": '"drift-value-9c1"', "new": '"one"'}]}])
    extra = drift_extra("files", result)
    assert extra == {"project": "files", "stack": "prod", "operation": "preview", "drift": True,
                     "changes": {"update": 1}, "resources": [
                         {"op": "update", "type": "t:m:R", "name": "conf", "urn": "urn:pulumi:prod::p::t:m:R::conf",
                          "properties": ["content"]}]}
    assert "drift-value-9c1" not in json.dumps(extra)


def test_emit_drift_adds_the_drift_asset_to_the_drift_alias_and_logs_what_drifted():
    from airflow_pulumi_decorators.assets import drift_alias
    from airflow_pulumi_decorators.publish.events import emit_drift_event

    added: list[tuple[Asset, dict]] = []

    class Outlet:
        def add(self, asset, extra):
            added.append((asset, extra))

    clean = SimpleNamespace(operation="preview", stack="prod", changes={"same": 2}, has_changes=False, steps=[])
    logged: list[str] = []
    emit_drift_event({"outlet_events": {drift_alias("files"): Outlet()}}, "files", clean, log=logged.append)
    assert [(asset.uri, extra["drift"]) for asset, extra in added] == [("pulumi-drift://files/prod", False)]
    assert logged == ["pulumi: asset event pulumi-drift://files/prod (drift: false; none)"]
