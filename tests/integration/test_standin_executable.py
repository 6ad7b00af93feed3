"""DAGs with no ``pulumi_command``: the task finds ``pulumi`` the way it would on a worker (PATH or
``[pulumi] cli_path``) and here that is the ``pulumi-standin`` executable, run as a subprocess."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airflow_pulumi_decorators.testing.standin import install_shim, read_journal

pytestmark = pytest.mark.integration


def _up_entries(backend: Path) -> list[dict]:
    journal = read_journal(backend / ".pulumi" / "standin-journal.jsonl")
    return [entry for entry in journal if "up" in entry["argv"]]


def test_cli_found_on_path_runs_as_a_subprocess(run_dag_file, tmp_path, monkeypatch):
    shim = install_shim(str(tmp_path / "shim"))
    monkeypatch.setenv("PATH", f"{os.path.dirname(shim)}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/keys/not-for-pulumi.json")
    # A worker of its own, with a plugin cache of its own: other tests install plugins into the session's.
    monkeypatch.setenv("AIRFLOW__PULUMI__WORKER_DIR", str(tmp_path / "worker"))
    monkeypatch.setenv("AIRFLOW__PULUMI__PLUGIN_CACHE_DIR", str(tmp_path / "plugins"))
    monkeypatch.setenv("AIRFLOW__PULUMI__PLUGINS", "auto")  # what this test is about, whatever ran before it
    result = run_dag_file("no_pulumi_command")
    assert result.state == "success", result.output[-3000:]
    assert result.xcom("infra", "length") == 2 and result.xcom("infra", "pet")
    ups = _up_entries(result.backend)
    assert [entry["form"] for entry in ups] == ["subprocess"]
    assert "PULUMI_BACKEND_URL" in ups[0]["env_names"]
    # [pulumi] plugins is "auto" here: one line names the plugins and why the stand-in installs none, and
    # the task goes on.
    lines = [ln for ln in result.output.splitlines() if "could not pre-install provider plugin(s)" in ln]
    assert len(lines) == 1, result.output[-3000:]
    line = lines[0]
    assert "the stand-in engine runs no provider plugins, so it installs none" in line
    journal = result.backend / ".pulumi" / "standin-journal.jsonl"
    tried = [e for e in read_journal(journal) if e["argv"][:2] == ["plugin", "install"]]
    assert tried
    # The worker remembers: the next task makes no plugin call and logs nothing about plugins.
    again = run_dag_file("no_pulumi_command")
    assert again.state == "success", again.output[-3000:]
    assert "pre-install" not in again.output
    assert [e for e in read_journal(journal) if e["argv"][:2] == ["plugin", "install"]] == tried


def test_the_standin_is_asked_for_no_plugins_with_plugins_none(run_dag_file, tmp_path, monkeypatch):
    shim = install_shim(str(tmp_path / "shim"))
    monkeypatch.setenv("AIRFLOW__PULUMI__CLI_PATH", os.path.dirname(shim))
    monkeypatch.setenv("AIRFLOW__PULUMI__PLUGINS", "none")
    result = run_dag_file("no_pulumi_command")
    assert result.state == "success", result.output[-3000:]
    journal = read_journal(result.backend / ".pulumi" / "standin-journal.jsonl")
    assert not [entry for entry in journal if entry["argv"][1:2] == ["plugin"] or entry["argv"][:1] == ["plugin"]]
    assert "runs no provider plugins" not in result.output


def test_cli_path_setting_points_at_the_executable(run_dag_file, tmp_path, monkeypatch):
    shim = install_shim(str(tmp_path / "shim"))
    monkeypatch.setenv("AIRFLOW__PULUMI__CLI_PATH", os.path.dirname(shim))
    result = run_dag_file("no_pulumi_command")
    assert result.state == "success", result.output[-3000:]
    assert [entry["form"] for entry in _up_entries(result.backend)] == ["subprocess"]


def test_missing_cli_fails_the_task_with_the_install_command(run_dag_file, tmp_path, monkeypatch):
    bare = tmp_path / "bare-bin"
    bare.mkdir()
    monkeypatch.setenv("PATH", str(bare))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    result = run_dag_file("no_pulumi_command")
    assert result.task_states["infra"] == "failed"
    assert "PulumiCliNotFoundError" in result.output
    assert "curl -fsSL https://get.pulumi.com | sh" in result.output
    assert not list(tmp_path.glob("**/airflow-pulumi-*"))
