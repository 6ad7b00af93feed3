"""The fake Google token server as a process of its own (``apd-fake-google``), with the real google-auth
exchanging its printed credential configuration."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SA = "deployer@acme-dev.iam.gserviceaccount.com"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "airflow_pulumi_decorators.testing.fake_google_cli", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _stop(process: subprocess.Popen) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=15)
    return process.returncode, err


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, dict]]:
    port = _free_port()
    process = _start("--json", "--port", str(port), "--impersonate", SA, "--conn-id", "gcp_deployer",
                     "--dir", str(tmp_path / "fake"))
    try:
        info = json.loads(process.stdout.readline())
        assert info["url"] == f"http://127.0.0.1:{port}"
        yield process, info
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_google_auth_exchanges_the_printed_configuration_with_the_process(served, monkeypatch):
    import google.auth.transport.requests
    from google.auth import identity_pool

    process, info = served
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    config = json.loads(Path(info["credential_config_file"]).read_text())
    assert config == info["credential_config"]
    assert config["token_url"] == info["token_url"]
    assert config["service_account_impersonation_url"].endswith(f"/{SA}:generateAccessToken")

    credentials = identity_pool.Credentials.from_info(config).with_scopes(
        ["https://www.googleapis.com/auth/cloud-platform"])
    credentials.refresh(google.auth.transport.requests.Request())
    assert credentials.token.startswith("fake-iam-")  # the impersonated token, from the process
    assert credentials.service_account_email == SA

    code, err = _stop(process)
    assert code == 0
    assert [line.split(" -> ")[1] for line in err.splitlines()] == ["sts 200", "iam 200"]
    assert credentials.token not in err


def test_the_printed_connection_variable_names_the_configuration(served):
    _, info = served
    connection = json.loads(info["env"]["AIRFLOW_CONN_GCP_DEPLOYER"])
    assert connection == {"conn_type": "google_cloud_platform",
                          "extra": {"credential_config_file": info["credential_config_file"]}}
    assert info["env"]["GCE_METADATA_HOST"] == info["metadata_host"]
    assert info["credential_config"]["credential_source"]["file"] == info["subject_token_file"]
    assert Path(info["subject_token_file"]).stat().st_mode & 0o777 == 0o600


def test_a_foreign_subject_token_is_refused_by_the_process(served, tmp_path, monkeypatch):
    import google.auth.exceptions
    import google.auth.transport.requests
    from google.auth import identity_pool

    _, info = served
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    Path(info["subject_token_file"]).write_text("not-the-subject-token")
    credentials = identity_pool.Credentials.from_info(info["credential_config"]).with_scopes(
        ["https://www.googleapis.com/auth/cloud-platform"])
    with pytest.raises(google.auth.exceptions.GoogleAuthError, match="invalid_grant"):
        credentials.refresh(google.auth.transport.requests.Request())


def test_text_output_gives_export_lines_and_a_busy_port_is_a_clear_error(tmp_path):
    first = _start("--dir", str(tmp_path / "a"))
    try:
        head = [first.stdout.readline() for _ in range(11)]
        assert head[0].startswith("fake Google token server on http://127.0.0.1:")
        port = int(head[0].split("127.0.0.1:")[1].split()[0])
        exports = [line for line in head if line.startswith("export ")]
        assert [line.split("=", 1)[0] for line in exports] == [
            "export AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT", "export GCE_METADATA_HOST", "export NO_PROXY"]
        second = _start("--port", str(port), "--dir", str(tmp_path / "b"))
        _, err = second.communicate(timeout=30)
        assert second.returncode != 0
        assert f"cannot serve on 127.0.0.1:{port}" in err
    finally:
        code, _ = _stop(first)
    assert code == 0
