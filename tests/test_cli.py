"""Finding the CLI and building its environment."""

import pytest

from airflow_pulumi_decorators import PulumiCliNotFoundError
from airflow_pulumi_decorators.cli import CliProcess, engine_environment, locate_cli
from tests.fake_cli import fake_cli as _fake_cli


def test_engine_environment_sets_and_removes():
    env = engine_environment({"KEEP": "1", "GOOGLE_APPLICATION_CREDENTIALS": "/k.json"},
                             {"NEW": "2", "GOOGLE_APPLICATION_CREDENTIALS": None})
    assert env == {"KEEP": "1", "NEW": "2"}


def test_locate_cli_configured_folder_or_file(tmp_path):
    cli = _fake_cli(tmp_path, "exit 0\n")
    assert locate_cli(str(tmp_path)) == str(cli)
    assert locate_cli(str(cli)) == str(cli)


def test_locate_cli_configured_but_missing_names_the_setting(tmp_path):
    with pytest.raises(PulumiCliNotFoundError, match=r"cli_path.*get.pulumi.com"):
        locate_cli(str(tmp_path / "nope"))


def test_interrupt_without_a_running_process_is_a_no_op(tmp_path):
    assert CliProcess(str(_fake_cli(tmp_path, "exit 0\n"))).interrupt() is False
