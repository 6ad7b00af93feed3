"""The same engine as an executable named ``pulumi`` (``PulumiCommand(root=...)`` / PATH)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from pulumi import automation as auto

from airflow_pulumi_decorators.testing.standin import BANNER, STANDIN_VERSION, read_journal

from . import programs
from .conftest import PASSPHRASE, wait_for_lock

pytestmark = pytest.mark.timeout(120)


def test_core_scenario_through_the_executable(make_stack, shim_root: str, backend: Path) -> None:
    command = auto.PulumiCommand(root=shim_root)  # runs `pulumi version` for real
    assert str(command.version) == STANDIN_VERSION
    stack = make_stack(programs.pet_and_bucket, command=command)
    stack.set_all_config(
        {"bucket": auto.ConfigValue("sub-bucket"), "token": auto.ConfigValue("sub-tok-1", secret=True)}
    )
    lines: list[str] = []
    events: list[auto.EngineEvent] = []
    up = stack.up(on_output=lines.append, on_event=events.append, message="via exe")
    assert lines[0] == BANNER
    assert up.outputs["bucket_name"].value == "sub-bucket"
    assert up.outputs["token"].value == "sub-tok-1" and up.outputs["token"].secret
    assert up.summary.resource_changes == {"create": 3} and up.summary.message == "via exe"
    assert events[-1].cancel_event is not None
    assert [e.summary_event.resource_changes for e in events if e.summary_event] == [{"create": 3}]

    assert stack.preview().change_summary == {"same": 3}
    assert stack.up(program=programs.pet_only).summary.resource_changes == {"same": 2, "delete": 1}
    assert stack.destroy().summary.resource_changes == {"delete": 2}

    records = read_journal(str(backend / ".pulumi" / "standin-journal.jsonl"))
    assert {r["form"] for r in records} == {"subprocess"}
    assert all(r["pid"] != os.getpid() for r in records)
    assert "sub-tok-1" not in (backend / ".pulumi" / "standin-journal.jsonl").read_text()


def test_executable_on_path(shim_root: str, backend: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PATH": os.path.join(shim_root, "bin") + os.pathsep + os.environ["PATH"],
        "PULUMI_BACKEND_URL": f"file://{backend}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
    }
    (tmp_path / "Pulumi.yaml").write_text("name: proj\nruntime: python\n")

    def pulumi(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(["pulumi", *argv], env=env, cwd=tmp_path, capture_output=True, text=True)

    assert pulumi("version").stdout.strip() == "v" + STANDIN_VERSION
    assert pulumi("stack", "init", "dev").returncode == 0
    again = pulumi("stack", "init", "dev")  # the real CLI's words and exit code (3.274)
    assert (again.returncode, again.stderr) == (1, "error: stack 'organization/proj/dev' already exists\n")
    missing = pulumi("stack", "select", "--stack", "nope")
    assert (missing.returncode, missing.stderr) == (6, "error: no stack named 'nope' found\n")
    created = pulumi("stack", "select", "--create", "--stack", "new")
    assert (created.returncode, created.stdout, created.stderr) == (0, "", "Created stack 'new'\n")
    reselected = pulumi("stack", "select", "--create", "--stack", "new")
    assert (reselected.returncode, reselected.stdout, reselected.stderr) == (0, "", "")
    assert pulumi("stack", "select", "--stack", "dev").returncode == 0
    assert pulumi("config", "set", "pw", "--secret", "--", "hidden-1").returncode == 0
    got = pulumi("config", "get", "pw", "--json")
    assert json.loads(got.stdout) == {"value": "hidden-1", "secret": True}
    listed = json.loads(pulumi("stack", "ls", "--json").stdout)
    assert listed[0]["name"] == "dev" and listed[0]["current"] is True
    assert pulumi("whoami").returncode == 0
    bad = pulumi("launch")
    assert bad.returncode == 1 and 'unknown command "launch"' in bad.stderr


def test_sigint_finishes_current_resource_and_releases_lock(
    make_stack, shim_root: str, backend: Path
) -> None:
    command = auto.PulumiCommand(root=shim_root)
    stack = make_stack(
        programs.three_pets, command=command, env={"PULUMI_STANDIN_DELAY_PER_RESOURCE": "0.5"}
    )
    outcome: dict[str, object] = {}
    created: list[str] = []

    def run() -> None:
        try:
            outcome["result"] = stack.up(on_output=created.append)
        except Exception as exc:  # noqa: BLE001 - inspected below
            outcome["result"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    lock = wait_for_lock(backend, timeout=30.0)
    pid = json.loads(lock.read_text())["pid"]
    deadline = time.monotonic() + 30
    while not any(line.endswith(" a creating") for line in created) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(pid, signal.SIGINT)
    worker.join(60)

    error = outcome["result"]
    assert isinstance(error, auto.CommandError), error
    assert not isinstance(error, auto.InlineSourceRuntimeError)
    assert "error: update canceled" in error.args[0].split("stderr:")[1]
    assert not lock.exists()
    # "a" was finished and recorded; "b"/"c" never ran.
    names = [r["urn"].rsplit("::", 1)[1] for r in stack.export_stack().deployment["resources"]]
    assert "a" in names and "c" not in names
    assert stack.history()[0].result == "failed"
    assert stack.up().summary.result == "succeeded"
