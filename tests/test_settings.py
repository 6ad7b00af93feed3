"""The ``[pulumi]`` section: defaults, AIRFLOW__PULUMI__* overrides, validation, documentation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airflow_pulumi_decorators import settings
from airflow_pulumi_decorators.errors import ConfigurationError
from airflow_pulumi_decorators.settings import OPTIONS, PluginSpec

DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for option in OPTIONS:
        monkeypatch.delenv(f"AIRFLOW__PULUMI__{option.name.upper()}", raising=False)


def test_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert settings.cli_version() is None
    assert settings.install_cli() is False
    assert settings.refresh_before_up() is False
    assert settings.default_conn_id() is None
    assert settings.pulumi_home_strategy() == "per_task"
    assert settings.worker_dir() == str(tmp_path / "pulumi")
    assert settings.plugin_cache_dir() == str(tmp_path / "pulumi" / "plugins")
    assert settings.plugins() == "auto"


def test_overrides(monkeypatch, tmp_path):
    env = {
        "CLI_VERSION": "v3.200.1", "INSTALL_CLI": "yes", "REFRESH_BEFORE_UP": "True",
        "DEFAULT_CONN_ID": "pulumi_prod", "PULUMI_HOME": "inherit", "WORKER_DIR": str(tmp_path / "w"),
        "PLUGIN_CACHE_DIR": str(tmp_path / "cache"), "PLUGINS": "random:4.21.4, gcp:v10.2.0:https://plugins.example/gcp",
    }
    for key, value in env.items():
        monkeypatch.setenv(f"AIRFLOW__PULUMI__{key}", value)
    assert settings.cli_version() == "3.200.1"
    assert settings.install_cli() is True and settings.refresh_before_up() is True
    assert settings.default_conn_id() == "pulumi_prod"
    assert settings.pulumi_home_strategy() == "inherit"
    assert settings.worker_dir() == str(tmp_path / "w")
    assert settings.plugin_cache_dir() == str(tmp_path / "cache")
    assert settings.plugins() == (
        PluginSpec("random", "4.21.4"), PluginSpec("gcp", "10.2.0", server="https://plugins.example/gcp"),
    )
    monkeypatch.setenv("AIRFLOW__PULUMI__PLUGINS", "none")
    assert settings.plugins() == "none"


def test_plugin_cache_follows_worker_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW__PULUMI__WORKER_DIR", str(tmp_path / "w"))
    assert settings.plugin_cache_dir() == str(tmp_path / "w" / "plugins")


@pytest.mark.parametrize(
    "key, value, fragment",
    [
        ("INSTALL_CLI", "maybe", r"\[pulumi\] install_cli \(AIRFLOW__PULUMI__INSTALL_CLI\)='maybe' is not a boolean"),
        ("REFRESH_BEFORE_UP", "2", r"\[pulumi\] refresh_before_up .*is not a boolean"),
        ("CLI_VERSION", "latest", r"\[pulumi\] cli_version .*'latest' is not a version; use e.g. 3.272.0"),
        ("PULUMI_HOME", "/tmp/x", r"\[pulumi\] pulumi_home .*is not one of per_task, inherit"),
        ("WORKER_DIR", "relative/dir", r"\[pulumi\] worker_dir .*must be an absolute path"),
        ("PLUGIN_CACHE_DIR", "cache", r"\[pulumi\] plugin_cache_dir .*must be an absolute path"),
        ("PLUGINS", "random", r"\[pulumi\] plugins .*'random'; use auto, none, or name:version"),
        ("PLUGINS", "random:4.1.0:ftp://x", r"\[pulumi\] plugins .*must be an http\(s\) URL"),
    ],
)
def test_bad_values_name_the_option_and_the_fix(monkeypatch, key, value, fragment):
    monkeypatch.setenv(f"AIRFLOW__PULUMI__{key}", value)
    getter = {
        "INSTALL_CLI": settings.install_cli, "REFRESH_BEFORE_UP": settings.refresh_before_up,
        "CLI_VERSION": settings.cli_version, "PULUMI_HOME": settings.pulumi_home_strategy,
        "WORKER_DIR": settings.worker_dir, "PLUGIN_CACHE_DIR": settings.plugin_cache_dir, "PLUGINS": settings.plugins,
    }[key]
    with pytest.raises(ConfigurationError, match=fragment):
        getter()


def test_airflow_cfg_values_are_read_through_airflow_conf(monkeypatch):
    from airflow.sdk.configuration import conf

    monkeypatch.setattr(
        conf,
        "get",
        lambda section, key, fallback=None: "inherit" if (section, key) == ("pulumi", "pulumi_home") else fallback,
    )
    assert settings.pulumi_home_strategy() == "inherit"


def test_every_option_is_documented():
    text = DOCS.read_text()
    for option in OPTIONS:
        assert re.search(rf"^\| `{option.name}` \| `AIRFLOW__PULUMI__{option.name.upper()}` \|", text, re.MULTILINE), (
            option.name
        )
