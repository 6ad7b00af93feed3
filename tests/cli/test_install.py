"""Installing the CLI once per worker.

Fake installers leave fake executables; nothing leaves 127.0.0.1 (the real installer runs in a network
namespace with only loopback).
"""

import http.server
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import urllib.error
import urllib.request

import pytest

from airflow_pulumi_decorators import PulumiCliNotFoundError
from airflow_pulumi_decorators.cli import prepare_cli
from airflow_pulumi_decorators.cli.install import install_cli, manual_install_command
from airflow_pulumi_decorators.errors import CliInstallError
from tests.cli.fakes import REPO, SDK_MIN, fake_installer, version_cli


def test_install_is_off_by_default(worker):
    calls: list = []
    with pytest.raises(PulumiCliNotFoundError):
        prepare_cli(None, {}, sdk_minimum=SDK_MIN, installer=fake_installer(calls))
    assert calls == []


def test_install_once_per_worker_then_reused(worker, monkeypatch):
    monkeypatch.setenv("AIRFLOW__PULUMI__INSTALL_CLI", "True")
    monkeypatch.setenv("AIRFLOW__PULUMI__CLI_VERSION", "3.260.0")
    calls: list = []
    lines: list = []
    first = prepare_cli(None, {}, sdk_minimum=SDK_MIN, installer=fake_installer(calls), on_output=lines.append)
    second = prepare_cli(None, {}, sdk_minimum=SDK_MIN, installer=fake_installer(calls))
    assert first.path == second.path == str(worker / "cli" / "3.260.0" / "bin" / "pulumi")
    assert str(second.version) == "3.260.0" and len(calls) == 1
    assert any("installing CLI 3.260.0" in line for line in lines)
    assert sorted(os.listdir(worker / "cli")) == [".3.260.0.lock", "3.260.0"]  # no staging left


def test_install_replaces_a_too_old_cli_found_on_path(tmp_path, worker, monkeypatch):
    version_cli(tmp_path / "old", "v3.100.0")
    monkeypatch.setenv("PATH", f"{tmp_path / 'old'}:/usr/bin:/bin")
    monkeypatch.setenv("AIRFLOW__PULUMI__INSTALL_CLI", "True")
    monkeypatch.setenv("AIRFLOW__PULUMI__CLI_VERSION", "3.260.0")
    process = prepare_cli(None, {}, sdk_minimum=SDK_MIN, installer=fake_installer([]))
    assert str(process.version) == "3.260.0"


def test_install_never_replaces_an_explicitly_configured_cli(tmp_path, worker, monkeypatch):
    monkeypatch.setenv("AIRFLOW__PULUMI__INSTALL_CLI", "True")
    calls: list = []
    with pytest.raises(PulumiCliNotFoundError, match="cli_path"):
        prepare_cli(str(tmp_path / "missing"), {}, sdk_minimum=SDK_MIN, installer=fake_installer(calls))
    assert calls == []


def test_failed_install_names_the_manual_command_and_leaves_nothing(worker):
    def broken(root, version):
        os.makedirs(os.path.join(root, "bin"))  # half an install
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    with pytest.raises(CliInstallError) as exc:
        install_cli("3.260.0", str(worker / "cli"), installer=broken)
    target = worker / "cli" / "3.260.0"
    assert manual_install_command("3.260.0", str(target)) in str(exc.value)
    assert "curl -fsSL https://get.pulumi.com | sh -s -- --version 3.260.0 --install-root" in str(exc.value)
    assert "name resolution" in str(exc.value)
    assert os.listdir(worker / "cli") == [".3.260.0.lock"]  # no half CLI for later tasks


def test_installer_that_leaves_no_binary_is_an_error(worker):
    with pytest.raises(CliInstallError, match="left no bin/pulumi; install it by hand: `curl"):
        install_cli("3.260.0", str(worker / "cli"), installer=lambda root, version: None)


CONCURRENT_INSTALL = textwrap.dedent(
    """
    import os, sys, time
    sys.path.insert(0, {repo!r})
    from airflow_pulumi_decorators.cli.install import install_cli
    def slow(root, version):
        with open({count!r}, "a") as f:
            f.write("install\\n")
        time.sleep(0.5)
        os.makedirs(os.path.join(root, "bin"))
        p = os.path.join(root, "bin", "pulumi")
        with open(p, "w") as f:
            f.write("#!/bin/sh\\necho v" + version + "\\n")
        os.chmod(p, 0o755)
    print(install_cli("3.260.0", {dir!r}, installer=slow))
    """
)


def test_concurrent_tasks_install_once(tmp_path):
    count = tmp_path / "count"
    script = CONCURRENT_INSTALL.format(repo=str(REPO), count=str(count), dir=str(tmp_path / "cli"))
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(6)]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert set(outs) == {str(tmp_path / "cli" / "3.260.0" / "bin" / "pulumi")}
    assert count.read_text().splitlines() == ["install"]


class _InstallScriptServer(http.server.ThreadingHTTPServer):
    """Serves a fake ``install.sh`` (same flags as Pulumi's) on 127.0.0.1; ``/missing`` is a 404."""

    SCRIPT = textwrap.dedent(
        """\
        #!/bin/sh
        # fake get.pulumi.com/install.sh: --no-edit-path --install-root ROOT --version V
        while [ $# -gt 0 ]; do
          case "$1" in --install-root) ROOT="$2"; shift;; --version) V="$2"; shift;; esac; shift
        done
        mkdir -p "$ROOT/bin"
        printf '#!/bin/sh\\necho v%s\\n' "$V" > "$ROOT/bin/pulumi"
        chmod +x "$ROOT/bin/pulumi"
        """
    )

    def __init__(self):
        script = self.SCRIPT.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/install.sh":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(script)))
                self.end_headers()
                self.wfile.write(script)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def install_server():
    server = _InstallScriptServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def script_installer(url):
    """What PulumiCommand.install does, from a URL we choose: download install.sh, run it."""

    def install(root, version):
        script = os.path.join(root, "install.sh")
        with urllib.request.urlopen(url, timeout=10) as response, open(script, "wb") as out:
            out.write(response.read())
        os.chmod(script, 0o700)
        subprocess.check_output([script, "--no-edit-path", "--install-root", root, "--version", version],
                                stderr=subprocess.STDOUT)

    return install


def test_install_downloads_from_a_loopback_server(worker, monkeypatch, install_server):
    monkeypatch.setenv("AIRFLOW__PULUMI__INSTALL_CLI", "True")
    monkeypatch.setenv("AIRFLOW__PULUMI__CLI_VERSION", "3.261.0")
    process = prepare_cli(None, {}, sdk_minimum=SDK_MIN, installer=script_installer(install_server.url + "/install.sh"))
    assert str(process.version) == "3.261.0"
    assert process.path == str(worker / "cli" / "3.261.0" / "bin" / "pulumi")


def test_install_download_failure_is_clear(worker, monkeypatch, install_server):
    monkeypatch.setenv("AIRFLOW__PULUMI__INSTALL_CLI", "True")
    monkeypatch.setenv("AIRFLOW__PULUMI__CLI_VERSION", "3.261.0")
    with pytest.raises(
        CliInstallError, match=r"could not install the Pulumi CLI 3.261.0 .*HTTP Error 404.*Install it by hand: `curl"
    ):
        prepare_cli(None, {}, sdk_minimum=SDK_MIN, installer=script_installer(install_server.url + "/missing"))


def _unshare_works() -> bool:
    if not shutil.which("unshare"):
        return False
    try:
        return subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(
    not _unshare_works(), reason="`unshare -n` (a network namespace with only loopback) is not permitted here"
)
def test_real_pulumi_installer_without_network_fails_with_the_manual_command(tmp_path):
    """The engine's installer (PulumiCommand.install, downloading get.pulumi.com) in a namespace with no network."""
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from airflow_pulumi_decorators.cli.install import install_cli
        from airflow_pulumi_decorators.engine.commands import install_pulumi_cli
        from airflow_pulumi_decorators.errors import CliInstallError
        try:
            install_cli("3.272.0", {str(tmp_path / 'cli')!r}, installer=install_pulumi_cli)
        except CliInstallError as exc:
            print("ERROR:", exc)
        """
    )
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    out = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ERROR: could not install the Pulumi CLI 3.272.0"), out.stdout + out.stderr[-2000:]
    assert "URLError" in out.stdout
    assert f"Install it by hand: `{manual_install_command('3.272.0', str(tmp_path / 'cli' / '3.272.0'))}`" in out.stdout
    assert os.listdir(tmp_path / "cli") == [".3.272.0.lock"]
