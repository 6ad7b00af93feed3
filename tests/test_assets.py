"""Stack assets (:mod:`airflow_pulumi_decorators.assets`): URIs and the alias outlet."""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias

from airflow_pulumi_decorators import Environment
from airflow_pulumi_decorators.assets import declared_stack_asset, parse_time_stack, stack_alias, stack_asset, stack_uri


def test_a_stack_is_the_asset_pulumi_project_stack():
    assert stack_uri("network", "prod") == "pulumi://network/prod"
    assert stack_uri("network", "acme/network/prod") == "pulumi://network/acme/network/prod"
    asset = stack_asset("network", "prod")
    assert isinstance(asset, Asset)
    assert (asset.uri, asset.name) == ("pulumi://network/prod", "pulumi://network/prod")


def test_each_project_has_one_alias():
    alias = stack_alias("network")
    assert isinstance(alias, AssetAlias) and alias.name == "pulumi-stacks:network"
    assert stack_alias("network") == alias and stack_alias("cluster") != alias


def test_a_stack_known_at_parse_time_is_declared_a_templated_one_is_not():
    envs = {"dev": Environment(stack="dev"), "prod": Environment(stack="acme-prod")}
    assert parse_time_stack("prod", None, None) == "prod"
    assert parse_time_stack(None, "prod", envs) == "acme-prod"  # the environment names it
    assert parse_time_stack("pr-{{ params.branch }}", None, None) is None
    assert parse_time_stack(None, "{{ params.env }}", envs) is None
    assert parse_time_stack(None, "qa", envs) is None  # refused later, with its own error
    assert parse_time_stack(object(), None, None) is None  # e.g. an upstream task's output
    assert declared_stack_asset("network", None, "prod", envs) == stack_asset("network", "acme-prod")
    assert declared_stack_asset("network", "{{ params.stack }}", None, None) is None
