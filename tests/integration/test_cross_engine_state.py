"""State written by one engine is read by the other: the stand-in writes checkpoints the real Pulumi CLI accepts
(its magic cookie, its passphrase key derivation, default providers and provider references) and reads what the
real CLI writes. ``up`` on one engine, then ``preview`` on the other finds nothing to change, in both directions;
a checkpoint neither engine trusts fails on both with a ``StateCorruptError`` naming the cause and the fix."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.engines import engine_kit

pytestmark = pytest.mark.integration


def _checkpoint_path(backend: Path) -> Path:
    return backend / ".pulumi" / "stacks" / "xeng" / "dev.json"


def _latest(backend: Path) -> dict:
    return json.loads(_checkpoint_path(backend).read_text())["checkpoint"]["latest"]


def _run(name: str, phase: str, run_dag_file, tmp_path: Path, monkeypatch):
    kit = engine_kit(name, tmp_path / name, monkeypatch)
    return run_dag_file("cross_engine", engine=kit, folder=str(tmp_path / "files"), phase=phase)


@pytest.mark.parametrize(("writer", "reader"), [("standin", "real"), ("real", "standin")])
def test_up_on_one_engine_then_preview_on_the_other_finds_no_changes(
    writer, reader, run_dag_file, tmp_path, monkeypatch
):
    backend = tmp_path / "state"
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{backend}")
    up = _run(writer, "up", run_dag_file, tmp_path, monkeypatch)
    assert up.state == "success", up.output[-3000:]
    assert up.xcom("infra", "return_value")["bucket"] == "raw-ember-opal"
    latest = _latest(backend)
    manifest = latest["manifest"]
    assert manifest["magic"] == hashlib.sha256(manifest["version"].encode()).hexdigest()
    providers = [r for r in latest["resources"] if r["type"] == "pulumi:providers:pulumi-python"]
    assert [p["urn"].rsplit("::", 1)[-1] for p in providers] == ["default"]
    reference = f"{providers[0]['urn']}::{providers[0]['id']}"
    dynamic = [r for r in latest["resources"] if r["type"].startswith("pulumi-python:dynamic")]
    assert len(dynamic) == 3 and all(r["provider"] == reference for r in dynamic)
    assert "s3cr3t-key" not in _checkpoint_path(backend).read_text()  # the secret input is encrypted

    preview = _run(reader, "preview", run_dag_file, tmp_path, monkeypatch)
    assert preview.state == "success", preview.output[-3000:]
    assert preview.xcom("infra_preview", "return_value")["changes"] == {"same": 4}, preview.output[-3000:]
    assert "s3cr3t-key" not in preview.output and "tok-cross" not in preview.output


@pytest.mark.parametrize("name", ["standin", "real"])
def test_a_checkpoint_with_a_wrong_magic_cookie_is_refused_with_the_cause_and_fix(
    name, run_dag_file, tmp_path, monkeypatch
):
    backend = tmp_path / "state"
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{backend}")
    assert _run("standin", "up", run_dag_file, tmp_path, monkeypatch).state == "success"
    path = _checkpoint_path(backend)
    data = json.loads(path.read_text())
    data["checkpoint"]["latest"]["manifest"]["magic"] = "0" * 64  # edited by hand
    path.write_text(json.dumps(data))

    refused = _run(name, "preview", run_dag_file, tmp_path, monkeypatch)
    assert refused.task_states["infra_preview"] == "failed"
    text = refused.output
    assert "StateCorruptError" in text, text[-3000:]
    assert f"the state of stack 'dev' cannot be used: its checkpoint file {path} fails the Pulumi CLI's integrity " \
           "check (magic cookie mismatch" in text, text[-3000:]
    error = next(line for line in text.splitlines() if "StateCorruptError: " in line)
    assert "set manifest.magic in the file to the hex SHA-256 of manifest.version" in error
    assert "This is a bug" not in error and "goroutine" not in error  # not the CLI's bug report
