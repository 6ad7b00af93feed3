"""Provider plugins on the real CLI with a per-task ``PULUMI_HOME``: found on PATH (ambient), found in the
shared plugin cache after a worker-image style ``pulumi plugin install --file``, and a clear failure when
neither has it.

The provider is our dynamic-provider server started under another package name (``apdplug``): a real,
non-bundled plugin for Pulumi's plugin lookup, with no download. Pulumi refuses to install its bundled
``pulumi-python`` plugin with ``--file``, hence the own name.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engines import EngineKit, engine_kit

pytestmark = [pytest.mark.integration, pytest.mark.real_cli]

REPO = Path(__file__).resolve().parents[2]
WRAPPER = REPO / "scripts" / "real-pulumi" / "bin" / "pulumi-resource-pulumi-python"
PACKAGE, VERSION = "apdplug", "0.1.0"


@pytest.fixture(params=["real"])
def engine(request, tmp_path, monkeypatch) -> EngineKit:
    """The real CLI alone in its folder: no plugin beside it, so only PATH or the plugin cache can supply one."""
    kit = engine_kit(request.param, tmp_path, monkeypatch, alone=True)
    monkeypatch.setenv("PATH", os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin", "/bin"]))
    monkeypatch.setenv("AIRFLOW__PULUMI__WORKER_DIR", str(tmp_path / "worker"))
    monkeypatch.setenv("AIRFLOW__PULUMI__PLUGIN_CACHE_DIR", str(tmp_path / "plugin-cache"))
    monkeypatch.delenv("AIRFLOW__PULUMI__PULUMI_HOME", raising=False)  # per task, the default
    return kit


def _plugin_script(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"pulumi-resource-{PACKAGE}"
    shutil.copy2(WRAPPER, path)
    return path


def _run(run_dag_file, engine: EngineKit, tmp_path: Path):
    target = tmp_path / "out" / "conf.txt"
    result = run_dag_file("real_cli/dags/plugged_file", engine=engine, target=str(target), package=PACKAGE,
                          version=VERSION)
    return result, target


def _task_homes(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / "worker").rglob("task-*") if p.is_dir()]


def test_a_plugin_on_path_is_found_from_a_per_task_home(run_dag_file, engine, tmp_path, monkeypatch):
    ambient = _plugin_script(tmp_path / "ambient")
    monkeypatch.setenv("PATH", os.pathsep.join([str(ambient.parent), os.environ["PATH"]]))
    result, target = _run(run_dag_file, engine, tmp_path)
    assert result.state == "success", result.output[-3000:]
    assert target.read_text() == "from a plugin"
    assert len(result.xcom("plugged", "sha256")) == 64
    assert (tmp_path / "worker" / "homes").is_dir() and not _task_homes(tmp_path)  # a per-task home, gone


def test_a_plugin_installed_with_file_into_the_cache_is_found(run_dag_file, engine, tmp_path):
    # What a worker image does: install into the folder that [pulumi] plugin_cache_dir names.
    image_home = tmp_path / "image-home"
    image_home.mkdir()
    (image_home / "plugins").symlink_to(tmp_path / "plugin-cache", target_is_directory=True)
    (tmp_path / "plugin-cache").mkdir(exist_ok=True)
    script = _plugin_script(tmp_path / "download")
    done = subprocess.run(
        [engine.cli, "plugin", "install", "resource", PACKAGE, VERSION, "--file", str(script)],
        env={**os.environ, "PULUMI_HOME": str(image_home)}, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    shutil.rmtree(script.parent)  # nothing left on PATH or beside the CLI
    result, target = _run(run_dag_file, engine, tmp_path)
    assert result.state == "success", result.output[-3000:]
    assert target.read_text() == "from a plugin"
    assert (tmp_path / "plugin-cache" / f"resource-{PACKAGE}-v{VERSION}").is_dir()
    assert not _task_homes(tmp_path)


def test_without_the_plugin_the_task_fails_naming_it_and_the_install_command(
    run_dag_file, engine, tmp_path, monkeypatch
):
    # No download attempt (nothing leaves the machine); the download-failed text is covered in tests/engine/.
    monkeypatch.setenv("PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION", "true")
    result, target = _run(run_dag_file, engine, tmp_path)
    assert result.state == "failed"
    assert not target.exists()
    cache = os.path.realpath(tmp_path / "plugin-cache")
    assert "PluginInstallError" in result.output, result.output[-4000:]
    assert f"needs the resource plugin {PACKAGE} v{VERSION}, which is not installed in {cache}" in result.output
    assert f"pulumi plugin install resource {PACKAGE} v{VERSION}" in result.output
