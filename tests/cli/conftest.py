"""A worker with no ``pulumi`` anywhere, for the CLI tests."""

import pytest


@pytest.fixture
def worker(tmp_path, monkeypatch):
    """A worker with no pulumi anywhere: empty PATH extras, HOME and worker_dir under tmp."""
    for opt in ("CLI_PATH", "CLI_VERSION", "INSTALL_CLI", "PLUGINS", "PLUGIN_CACHE_DIR", "PULUMI_HOME"):
        monkeypatch.delenv(f"AIRFLOW__PULUMI__{opt}", raising=False)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AIRFLOW__PULUMI__WORKER_DIR", str(tmp_path / "worker"))
    monkeypatch.setenv("AIRFLOW__PULUMI__PLUGINS", "none")
    return tmp_path / "worker"
