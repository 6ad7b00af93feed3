"""``[pulumi]`` options that change what a task asks of the engine, seen in the stand-in's journal."""

from __future__ import annotations

import pytest

from airflow_pulumi_decorators.testing.standin import read_journal

pytestmark = pytest.mark.integration


def _up_argv(result) -> list[str]:
    journal = read_journal(result.backend / ".pulumi" / "standin-journal.jsonl")
    return next(entry["argv"] for entry in journal if "up" in entry["argv"])


@pytest.mark.parametrize("setting, refreshed", [("True", True), ("False", False)])
def test_refresh_before_up_setting_adds_refresh_to_up(run_dag_file, monkeypatch, setting, refreshed):
    monkeypatch.setenv("AIRFLOW__PULUMI__REFRESH_BEFORE_UP", setting)
    result = run_dag_file("settings_opts")
    assert result.state == "success", result.output[-3000:]
    assert ("--refresh" in _up_argv(result)) is refreshed
