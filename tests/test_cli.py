"""Finding, checking and installing the CLI, its plugins, and the environment it runs with.

Fake executables print versions; nothing leaves 127.0.0.1 (the real installer runs in a network
namespace with only loopback).
"""

import http.server
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from semver import VersionInfo

from airflow_pulumi_decorators import PulumiCliNotFoundError
from airflow_pulumi_decorators.cli import (
    CliProcess,
    discover_plugins,
    engine_environment,
    ensure_plugins,
    install_cli,
    locate_cli,
    manual_install_command,
    plugin_installed,
    prepare_cli,
    required_minimum,
)
from airflow_pulumi_decorators.errors import CliInstallError, PluginInstallError
from airflow_pulumi_decorators.settings import PluginSpec
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


# -- version checks, discovery, install, plugins (the CLI as a managed dependency) --------------------

SDK_MIN = VersionInfo.parse("3.1.0")
REPO = Path(__file__).resolve().parents[1]


def version_cli(folder: Path, version: str, *, log: Path | None = None, body: str = "exit 0\n") -> Path:
    """``folder/pulumi`` printing ``version``; logs every invocation's argv (and PULUMI_HOME) to ``log``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pulumi"
    record = f'echo "$* | $PULUMI_HOME" >> "{log}"\n' if log else ""
    path.write_text(f"#!/bin/sh\n{record}" f'if [ "$1" = "version" ]; then echo "{version}"; exit 0; fi\n' + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


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


@pytest.mark.parametrize("printed", ["v3.272.0", "3.272.0", "v3.272.0+standin", "v3.300.0-alpha.1"])
def test_version_check_accepts(tmp_path, printed):
    process = CliProcess(str(version_cli(tmp_path, printed)))
    assert str(process.check_version({"PATH": "/usr/bin:/bin"}, SDK_MIN, sdk_major=3)) == printed.lstrip("v")


@pytest.mark.parametrize(
    "printed, minimum, fragment",
    [
        ("v3.0.5", SDK_MIN, "3.0.5 .* is older than the minimum 3.1.0 \\(this Pulumi SDK\\)"),
        ("v4.0.0", SDK_MIN, "has major version 4, but the Pulumi SDK on this worker is 3.x; install a 3.x CLI"),
        ("v2.25.0", VersionInfo.parse("2.0.0"), "has major version 2"),
        ("hello", SDK_MIN, "printed 'hello' for `version`, not a Pulumi CLI version"),
    ],
)
def test_version_check_refuses(tmp_path, printed, minimum, fragment):
    with pytest.raises(PulumiCliNotFoundError, match=fragment) as exc:
        CliProcess(str(version_cli(tmp_path, printed))).check_version({}, minimum, sdk_major=3)
    assert "get.pulumi.com" in str(exc.value)


def test_configured_minimum_wins_when_higher():
    assert required_minimum(SDK_MIN, None) == (SDK_MIN, "this Pulumi SDK")
    assert required_minimum(SDK_MIN, "3.0.0") == (SDK_MIN, "this Pulumi SDK")
    assert required_minimum(SDK_MIN, "3.250.0") == (VersionInfo.parse("3.250.0"), "[pulumi] cli_version")


def test_prepare_refuses_a_cli_older_than_cli_version(tmp_path, worker, monkeypatch):
    cli = version_cli(tmp_path / "bin", "v3.200.0")
    monkeypatch.setenv("AIRFLOW__PULUMI__CLI_VERSION", "3.250.0")
    with pytest.raises(PulumiCliNotFoundError, match=r"3.200.0 .* older than the minimum 3.250.0 \(\[pulumi\] cli_version\)"):
        prepare_cli(str(cli), {}, sdk_minimum=SDK_MIN)


def test_locate_order_configured_then_path_then_home_bin(tmp_path, worker, monkeypatch):
    home_bin = version_cli(tmp_path / "home" / ".pulumi" / "bin", "v3.272.0")
    assert locate_cli() == str(home_bin)
    on_path = version_cli(tmp_path / "onpath", "v3.272.0")
    monkeypatch.setenv("PATH", f"{tmp_path / 'onpath'}:/usr/bin:/bin")
    assert locate_cli() == str(on_path)
    configured = version_cli(tmp_path / "configured", "v3.272.0")
    assert locate_cli(str(tmp_path / "configured")) == str(configured)


def test_nothing_found_says_how_to_install(worker):
    with pytest.raises(PulumiCliNotFoundError, match="no `pulumi` executable on PATH or in ~/.pulumi/bin.*get.pulumi.com"):
        prepare_cli(None, {}, sdk_minimum=SDK_MIN)


def test_version_is_checked_once_per_task_not_per_call(tmp_path, worker):
    log = tmp_path / "calls.log"
    cli = version_cli(tmp_path / "bin", "v3.272.0", log=log)
    process = prepare_cli(str(cli), {}, sdk_minimum=SDK_MIN)
    for _ in range(3):
        assert process.run(["stack", "ls"], str(tmp_path), {})[0] == 0
    calls = [line.split(" | ")[0] for line in log.read_text().splitlines()]
    assert calls == ["version", "stack ls", "stack ls", "stack ls"]


# The installer seam: installer(root, version) must leave <root>/bin/pulumi.

def fake_installer(calls: list):
    def install(root, version):
        calls.append((root, version))
        version_cli(Path(root) / "bin", f"v{version}")

    return install


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
    from airflow_pulumi_decorators.cli import install_cli
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
    with pytest.raises(CliInstallError, match=r"could not install the Pulumi CLI 3.261.0 .*HTTP Error 404.*Install it by hand: `curl"):
        prepare_cli(None, {}, sdk_minimum=SDK_MIN, installer=script_installer(install_server.url + "/missing"))


def _unshare_works() -> bool:
    if not shutil.which("unshare"):
        return False
    try:
        return subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not _unshare_works(), reason="`unshare -n` (a network namespace with only loopback) is not permitted here")
def test_real_pulumi_installer_without_network_fails_with_the_manual_command(tmp_path):
    """The default installer (PulumiCommand.install, downloading get.pulumi.com) in a namespace with no network."""
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from airflow_pulumi_decorators.cli import install_cli
        from airflow_pulumi_decorators.errors import CliInstallError
        try:
            install_cli("3.272.0", {str(tmp_path / 'cli')!r})
        except CliInstallError as exc:
            print("ERROR:", exc)
        """
    )
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    out = subprocess.run(["unshare", "-n", sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ERROR: could not install the Pulumi CLI 3.272.0"), out.stdout + out.stderr[-2000:]
    assert "URLError" in out.stdout
    assert f"Install it by hand: `{manual_install_command('3.272.0', str(tmp_path / 'cli' / '3.272.0'))}`" in out.stdout
    assert os.listdir(tmp_path / "cli") == [".3.272.0.lock"]


# -- plugins ------------------------------------------------------------------------------------------

PLUGIN_CLI_BODY = textwrap.dedent(
    """\
    if [ "$1" = "plugin" ] && [ "$2" = "install" ]; then
      dir="$PULUMI_HOME/plugins/$3-$4-v$5"
      if [ -e "$PULUMI_HOME/plugins/.busy" ]; then echo OVERLAP >> "$PLUGIN_LOG"; fi
      touch "$PULUMI_HOME/plugins/.busy"
      echo "install $4 $5" >> "$PLUGIN_LOG"
      if [ "$4" = "broken" ]; then rm -f "$PULUMI_HOME/plugins/.busy"; echo "error: 404 not found" >&2; exit 255; fi
      sleep 0.2
      mkdir -p "$dir"
      rm -f "$dir.partial" "$PULUMI_HOME/plugins/.busy"
      exit 0
    fi
    exit 0
    """
)


def plugin_home(tmp_path: Path) -> tuple[Path, Path]:
    """A per-task-like PULUMI_HOME whose plugins folder links to a shared cache."""
    cache = tmp_path / "cache"
    cache.mkdir(exist_ok=True)
    home = tmp_path / f"home-{os.urandom(3).hex()}"
    home.mkdir()
    (home / "plugins").symlink_to(cache)
    return home, cache


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
    with pytest.raises(PluginInstallError, match=r"broken 1.0.0 .*404 not found.*`pulumi plugin install resource broken 1.0.0 --server https://plugins.example`"):
        ensure_plugins(process, [spec], str(cache), {"PULUMI_HOME": str(home)})
    assert ensure_plugins(process, [spec], str(cache), {"PULUMI_HOME": str(home)}, strict=False) == []
    assert "the engine will try to install it" in caplog.text


CONCURRENT_PLUGINS = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {repo!r})
    from airflow_pulumi_decorators.cli import CliProcess, ensure_plugins
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


def test_prepare_skips_plugins_for_the_standin(tmp_path, worker, monkeypatch):
    monkeypatch.setenv("PLUGIN_LOG", str(tmp_path / "plugin.log"))
    monkeypatch.setenv("AIRFLOW__PULUMI__PLUGINS", "random:4.21.4")
    cli = version_cli(tmp_path / "bin", "v3.272.0+standin", body=PLUGIN_CLI_BODY)
    home, _ = plugin_home(tmp_path)
    prepare_cli(str(cli), {"PULUMI_HOME": str(home)}, sdk_minimum=SDK_MIN)
    assert not (tmp_path / "plugin.log").exists()
