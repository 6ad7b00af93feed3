"""The package's names: what other modules import from ``airflow_pulumi_decorators.cli``."""

import airflow_pulumi_decorators.cli as cli


def test_every_exported_name_resolves():
    assert sorted(cli.__all__) == sorted(set(cli.__all__))
    assert all(getattr(cli, name, None) is not None for name in cli.__all__)


def test_the_engine_and_the_standin_import_from_the_package():
    from airflow_pulumi_decorators.cli import INSTALL_HINT, CliProcess, engine_environment, plugins_dir, prepare_cli

    assert INSTALL_HINT and CliProcess and engine_environment and plugins_dir and prepare_cli
