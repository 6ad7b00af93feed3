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
    result = run_dag_file("no_pulumi_command")
    assert result.state == "success", result.output[-3000:]
    assert result.xcom("infra", "length") == 2 and result.xcom("infra", "pet")
    ups = _up_entries(result.backend)
    assert [entry["form"] for entry in ups] == ["subprocess"]
    assert "PULUMI_BACKEND_URL" in ups[0]["env_names"]
    # [pulumi] plugins is "auto" here: the stand-in says why it installs none, and the task goes on.
    assert "the stand-in engine runs no provider plugins, so it installs none" in result.output


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
