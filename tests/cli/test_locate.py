"""Finding the CLI and the version it must have."""

import pytest
from semver import VersionInfo

from airflow_pulumi_decorators import PulumiCliNotFoundError
from airflow_pulumi_decorators.cli import prepare_cli
from airflow_pulumi_decorators.cli.locate import locate_cli, required_minimum
from tests.cli.fakes import SDK_MIN, version_cli
from tests.fake_cli import fake_cli as _fake_cli


def test_locate_cli_configured_folder_or_file(tmp_path):
    cli = _fake_cli(tmp_path, "exit 0\n")
    assert locate_cli(str(tmp_path)) == str(cli)
    assert locate_cli(str(cli)) == str(cli)


def test_locate_cli_configured_but_missing_names_the_setting(tmp_path):
    with pytest.raises(PulumiCliNotFoundError, match=r"cli_path.*get.pulumi.com"):
        locate_cli(str(tmp_path / "nope"))


def test_locate_order_configured_then_path_then_home_bin(tmp_path, worker, monkeypatch):
    home_bin = version_cli(tmp_path / "home" / ".pulumi" / "bin", "v3.272.0")
    assert locate_cli() == str(home_bin)
    on_path = version_cli(tmp_path / "onpath", "v3.272.0")
    monkeypatch.setenv("PATH", f"{tmp_path / 'onpath'}:/usr/bin:/bin")
    assert locate_cli() == str(on_path)
    configured = version_cli(tmp_path / "configured", "v3.272.0")
    assert locate_cli(str(tmp_path / "configured")) == str(configured)


def test_nothing_found_says_how_to_install(worker):
    with pytest.raises(
        PulumiCliNotFoundError, match="no `pulumi` executable on PATH or in ~/.pulumi/bin.*get.pulumi.com"
    ):
        prepare_cli(None, {}, sdk_minimum=SDK_MIN)


def test_configured_minimum_wins_when_higher():
    assert required_minimum(SDK_MIN, None) == (SDK_MIN, "this Pulumi SDK")
    assert required_minimum(SDK_MIN, "3.0.0") == (SDK_MIN, "this Pulumi SDK")
    assert required_minimum(SDK_MIN, "3.250.0") == (VersionInfo.parse("3.250.0"), "[pulumi] cli_version")


def test_prepare_refuses_a_cli_older_than_cli_version(tmp_path, worker, monkeypatch):
    cli = version_cli(tmp_path / "bin", "v3.200.0")
    monkeypatch.setenv("AIRFLOW__PULUMI__CLI_VERSION", "3.250.0")
    with pytest.raises(
        PulumiCliNotFoundError, match=r"3.200.0 .* older than the minimum 3.250.0 \(\[pulumi\] cli_version\)"
    ):
        prepare_cli(str(cli), {}, sdk_minimum=SDK_MIN)
