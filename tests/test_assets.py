"""Stack assets (:mod:`airflow_pulumi_decorators.assets`): URIs and the alias outlet."""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias

from airflow_pulumi_decorators.assets import stack_alias, stack_asset, stack_uri


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
