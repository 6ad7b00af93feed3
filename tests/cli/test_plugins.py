"""Provider plugins: discovery, one install per worker, never two installs at once."""

import json
import subprocess
import sys
import textwrap

import pytest

from airflow_pulumi_decorators.cli import prepare_cli
from airflow_pulumi_decorators.cli.plugins import (
    FAILURE_MEMORY_SECONDS,
    discover_plugins,
    ensure_plugins,
    plugin_installed,
)
from airflow_pulumi_decorators.cli.process import CliProcess
from airflow_pulumi_decorators.errors import PluginInstallError
from airflow_pulumi_decorators.settings import PluginSpec
from tests.cli.fakes import PLUGIN_CLI_BODY, REPO, SDK_MIN, plugin_home, version_cli


def test_discover_plugins_from_installed_provider_packages(tmp_path):
    for pkg, meta in {
        "pulumi_random": {"resource": True, "name": "random", "version": "4.21.4"},
        "pulumi_custom": {"resource": True, "name": "custom", "version": "v1.2.3", "server": "https://p.example"},
        "pulumi_policy": {"resource": False, "name": "policy", "version": "1.0.0"},
    }.items():
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "pulumi-plugin.json").write_text(json.dumps(meta))
    assert discover_plugins([str(tmp_path)]) == (
        PluginSpec("custom", "1.2.3", server="https://p.example"), PluginSpec("random", "4.21.4"),
    )
    found = {s.name for s in discover_plugins()}  # this venv has pulumi_random and pulumi_gcp
    assert {"random", "gcp"} <= found


def test_plugins_install_once_and_are_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("PLUGIN_LOG", str(tmp_path / "plugin.log"))
    process = CliProcess(str(version_cli(tmp_path / "bin", "v3.272.0", body=PLUGIN_CLI_BODY)))
    specs = [PluginSpec("random", "4.21.4"), PluginSpec("gcp", "10.2.0")]
    home, cache = plugin_home(tmp_path)
    assert ensure_plugins(process, specs, str(cache), {"PULUMI_HOME": str(home)}) == specs
    home2, _ = plugin_home(tmp_path)
    assert ensure_plugins(process, specs, str(cache), {"PULUMI_HOME": str(home2)}) == []  # no CLI call at all
    assert (tmp_path / "plugin.log").read_text().splitlines() == ["install random 4.21.4", "install gcp 10.2.0"]
    assert all(plugin_installed(str(cache), s) for s in specs)


def test_partial_plugin_install_is_redone(tmp_path, monkeypatch):
    monkeypatch.setenv("PLUGIN_LOG", str(tmp_path / "plugin.log"))
    process = CliProcess(str(version_cli(tmp_path / "bin", "v3.272.0", body=PLUGIN_CLI_BODY)))
    home, cache = plugin_home(tmp_path)
    (cache / "resource-random-v4.21.4").mkdir()
    (cache / "resource-random-v4.21.4.partial").touch()  # a killed install, in Pulumi's convention
    assert not plugin_installed(str(cache), PluginSpec("random", "4.21.4"))
    ensure_plugins(process, [PluginSpec("random", "4.21.4")], str(cache), {"PULUMI_HOME": str(home)})
    assert (tmp_path / "plugin.log").read_text().splitlines() == ["install random 4.21.4"]


def test_failed_plugin_install_strict_or_not(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PLUGIN_LOG", str(tmp_path / "plugin.log"))
    process = CliProcess(str(version_cli(tmp_path / "bin", "v3.272.0", body=PLUGIN_CLI_BODY)))
    home, cache = plugin_home(tmp_path)
    spec = PluginSpec("broken", "1.0.0", server="https://plugins.example")
    with pytest.raises(
        PluginInstallError,
        match=r"broken 1.0.0 .*404 not found.*`pulumi plugin install resource broken 1.0.0 --server https://plugins.example`",
    ):
        ensure_plugins(process, [spec], str(cache), {"PULUMI_HOME": str(home)})
    assert ensure_plugins(process, [spec], str(cache), {"PULUMI_HOME": str(home)}, strict=False) == []
    assert "A program that needs one makes the engine try to install it" in caplog.text


def test_auto_plugins_that_fail_are_tried_once_per_worker_and_named_in_one_line(tmp_path, monkeypatch, caplog):
    """A worker without internet: one try per plugin, one warning, then no CLI call until the memory expires."""
    monkeypatch.setenv("PLUGIN_LOG", str(tmp_path / "plugin.log"))
    process = CliProcess(str(version_cli(tmp_path / "bin", "v3.272.0", body=PLUGIN_CLI_BODY)))
    home, cache = plugin_home(tmp_path)
    specs = [PluginSpec("broken", "1.0.0"), PluginSpec("random", "4.21.4"), PluginSpec("broken", "2.0.0")]
    failures, now = str(tmp_path / "worker" / "plugin-failures"), [1000.0]
    lines: list = []

    def ensure():
        caplog.clear()
        return ensure_plugins(process, specs, str(cache), {"PULUMI_HOME": str(home)}, strict=False,
                              on_output=lines.append, failures_dir=failures, clock=lambda: now[0])

    assert ensure() == [PluginSpec("random", "4.21.4")]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "plugin(s) broken 1.0.0, broken 2.0.0" in warnings[0]
    assert "404 not found" in warnings[0] and "not tried again on this worker for 1 h" in warnings[0]
    assert "[pulumi] plugins = none" in warnings[0]
    assert lines == []  # the CLI's own lines are not streamed for a best-effort install
    tried = (tmp_path / "plugin.log").read_text().splitlines()
    assert tried == ["install broken 1.0.0", "install random 4.21.4", "install broken 2.0.0"]

    now[0] += 60  # the next task on this worker: no CLI call, no log line
    assert ensure() == [] and not caplog.records
    assert (tmp_path / "plugin.log").read_text().splitlines() == tried

    now[0] += FAILURE_MEMORY_SECONDS  # remembered for a while, not for ever
    ensure()
    assert (tmp_path / "plugin.log").read_text().splitlines()[len(tried):] == [
        "install broken 1.0.0", "install broken 2.0.0"]
    # An explicit list (strict) is never skipped by that memory.
    with pytest.raises(PluginInstallError):
        ensure_plugins(process, specs[:1], str(cache), {"PULUMI_HOME": str(home)}, failures_dir=failures,
                       clock=lambda: now[0])


CONCURRENT_PLUGINS = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {repo!r})
    from airflow_pulumi_decorators.cli.plugins import ensure_plugins
    from airflow_pulumi_decorators.cli.process import CliProcess
    from airflow_pulumi_decorators.settings import PluginSpec
    home = os.path.join({root!r}, "home-%d" % os.getpid())
    os.makedirs(home)
    os.symlink({cache!r}, os.path.join(home, "plugins"))
    specs = [PluginSpec("random", "4.21.4"), PluginSpec("gcp", "10.2.0"), PluginSpec("aws", "7.0.0")]
    done = ensure_plugins(CliProcess({cli!r}), specs, {cache!r}, {{"PULUMI_HOME": home}})
    print(",".join(s.name for s in done))
    """
)


def test_concurrent_tasks_install_each_plugin_once_never_overlapping(tmp_path, monkeypatch):
    monkeypatch.setenv("PLUGIN_LOG", str(tmp_path / "plugin.log"))
    cli = version_cli(tmp_path / "bin", "v3.272.0", body=PLUGIN_CLI_BODY)
    (tmp_path / "cache").mkdir()
    script = CONCURRENT_PLUGINS.format(repo=str(REPO), root=str(tmp_path), cache=str(tmp_path / "cache"), cli=str(cli))
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    log = (tmp_path / "plugin.log").read_text().splitlines()
    assert "OVERLAP" not in log
    assert sorted(log) == ["install aws 7.0.0", "install gcp 10.2.0", "install random 4.21.4"]
    assert sorted(",".join(outs).replace(",", " ").split()) == ["aws", "gcp", "random"]


def test_prepare_installs_configured_plugins_into_the_task_home(tmp_path, worker, monkeypatch):
    monkeypatch.setenv("PLUGIN_LOG", str(tmp_path / "plugin.log"))
    monkeypatch.setenv("AIRFLOW__PULUMI__PLUGINS", "random:4.21.4")
    cli = version_cli(tmp_path / "bin", "v3.272.0", body=PLUGIN_CLI_BODY)
    home, cache = plugin_home(tmp_path)
    lines: list = []
    prepare_cli(str(cli), {"PULUMI_HOME": str(home)}, sdk_minimum=SDK_MIN, on_output=lines.append)
    assert plugin_installed(str(cache), PluginSpec("random", "4.21.4"))
    assert any(line.startswith("pulumi: installed provider plugin random 4.21.4") for line in lines)


def test_prepare_installs_no_plugins_with_plugins_none(tmp_path, worker, monkeypatch):
    monkeypatch.setenv("PLUGIN_LOG", str(tmp_path / "plugin.log"))
    monkeypatch.setenv("AIRFLOW__PULUMI__PLUGINS", "none")
    cli = version_cli(tmp_path / "bin", "v3.272.0", body=PLUGIN_CLI_BODY)
    home, _ = plugin_home(tmp_path)
    prepare_cli(str(cli), {"PULUMI_HOME": str(home)}, sdk_minimum=SDK_MIN)
    assert not (tmp_path / "plugin.log").exists()


def test_a_cli_version_with_build_metadata_gets_its_plugins_like_any_other(tmp_path, worker, monkeypatch):
    """Nothing in the library treats a CLI differently by its version text (the stand-in included)."""
    monkeypatch.setenv("PLUGIN_LOG", str(tmp_path / "plugin.log"))
    monkeypatch.setenv("AIRFLOW__PULUMI__PLUGINS", "random:4.21.4")
    cli = version_cli(tmp_path / "bin", "v3.272.0+standin", body=PLUGIN_CLI_BODY)
    home, cache = plugin_home(tmp_path)
    prepare_cli(str(cli), {"PULUMI_HOME": str(home)}, sdk_minimum=SDK_MIN)
    assert plugin_installed(str(cache), PluginSpec("random", "4.21.4"))
