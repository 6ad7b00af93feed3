"""The same program on every engine, compared as a user sees it.

One test runs a preview, an ``up`` whose outputs feed a downstream task, real drift made on disk, a
refresh, an update that removes a resource and a destroy — on the in-process stand-in, the ``pulumi-standin``
executable and the real CLI in turn — then compares what each run left for the user: task states, every
XCom (summaries without their timings and links), the change counts and withheld-secret notices in the task
log, and the resources, types and secret flags in the state. The stand-in must match the real engine;
documented differences (docs/standin.md) are normalised here, each one named.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.engines import ENGINES, engine_kit

pytestmark = pytest.mark.integration

#: Summary fields that differ between any two runs (timing, run ids, where the state is).
_VOLATILE = ("duration_s", "message", "backend", "url")
#: Parts of a preview's plan fingerprint that name the engine (the stand-in's version is its own).
_ENGINE_SPECIFIC_PLAN = ("cli_version", "fingerprint")
#: Pulumi's marker for a secret value in a state file.
_SECRET_SIG = "4dabf18193072939515e22adb298388d"


def _state_view(backend: Path) -> list[dict[str, Any]]:
    """Each resource of the program, the default provider both engines record included: type, name, and
    which outputs are secret."""
    path = backend / ".pulumi" / "stacks" / "diff" / "dev.json"
    resources = json.loads(path.read_text())["checkpoint"]["latest"].get("resources") or []
    return _by_name([
        {
            "type": r["type"],
            "name": r["urn"].rsplit("::", 1)[-1],
            "secret_outputs": sorted(k for k, v in (r.get("outputs") or {}).items()
                                     if isinstance(v, dict) and _SECRET_SIG in v),
            "outputs": sorted(r.get("outputs") or {}),
        }
        for r in resources
    ])


def _by_name(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The real engine runs independent steps in parallel, so their order varies from run to run."""
    return sorted(items, key=lambda item: (item["name"], item.get("op", "")))


def _plan_view(plan: dict[str, Any]) -> dict[str, Any]:
    """A preview's plan fingerprint: the same on every engine but for the CLI's version (and so the digest of
    the whole) and the digest of the argument that is each engine's own folder."""
    kept = {k: v for k, v in plan.items() if k not in _ENGINE_SPECIFIC_PLAN}
    return dict(kept, inputs=dict(kept["inputs"], **{"args[0]": "<engine dir>"}))


def _xcom_view(xcoms: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    view = {}
    for task_id, by_key in xcoms.items():
        view[task_id] = {}
        for key, value in by_key.items():
            if key == "pulumi_summary":
                value = {k: v for k, v in value.items() if k not in _VOLATILE}
            if key == "steps":
                value = _by_name(value)
            if key == "return_value" and isinstance(value, dict) and "steps" in value:
                value = dict(value, steps=_by_name(value["steps"]))
            if key == "plan":
                value = _plan_view(value)
            if key == "return_value" and isinstance(value, dict) and "plan" in value:
                value = dict(value, plan=_plan_view(value["plan"]))
            view[task_id][key] = value
    return view


def _log_view(output: str) -> list[str]:
    """Change counts (and the version, where known), withheld secrets, and the program's warning with the level
    the task log gave each line."""
    return re.findall(
        r"(changes: [a-z=0-9, ]+(?:; version=\w+)?|secret outputs withheld from XCom: [a-z, ]+|"
        r"\[[a-z]+ *\] +warning: differential check: labels missing)", output)


def _run_on(name: str, run_dag_file, tmp_path: Path, monkeypatch) -> dict[str, Any]:
    kit = engine_kit(name, tmp_path / name, monkeypatch)
    backend = tmp_path / name / "state"
    backend.mkdir(parents=True)
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{backend}")
    folder = tmp_path / name / "files"

    first = run_dag_file("differential", engine=kit, folder=str(folder), phase="first")
    assert first.state == "success", f"{name}: {first.output[-3000:]}"
    after_up = _state_view(backend)
    (folder / "conf.txt").write_text("edited by hand")  # real drift, seen by the provider's read
    second = run_dag_file("differential", engine=kit, folder=str(folder), phase="second")
    assert second.state == "success", f"{name}: {second.output[-3000:]}"

    view = {
        "first": {"tasks": first.task_states, "xcom": _xcom_view(first.xcoms), "log": _log_view(first.output)},
        "state after up": after_up,
        "second": {"tasks": second.task_states, "xcom": _xcom_view(second.xcoms), "log": _log_view(second.output)},
        "files left": sorted(p.name for p in folder.iterdir()),
        "stack file kept": (backend / ".pulumi" / "stacks" / "diff" / "dev.json").exists(),
    }
    # Paths and each engine's own folder are not what differs between engines.
    return json.loads(json.dumps(view).replace(str(tmp_path / name), "<engine dir>"))


def test_every_engine_shows_the_user_the_same_runs(run_dag_file, tmp_path, monkeypatch):
    views = {name: _run_on(name, run_dag_file, tmp_path, monkeypatch) for name in ENGINES}
    real = views["real"]
    # Sanity: the scenario did what it says, so equal views are not equal by being empty.
    assert real["first"]["xcom"]["infra"]["bucket"] == "raw-ember-opal"
    planned = real["first"]["xcom"]["infra_preview"]["return_value"]["plan"]
    assert planned["steps"] and set(planned["inputs"]) == {"args[0]", "args[1]", "args[2]"}  # compared below
    token = real["first"]["xcom"]["use"]["return_value"]["token"]  # withheld: its marker, never the value
    assert token["__pulumi_secret_output_withheld__"] == 1 and token["output"] == "token" and "tok-" not in str(token)
    # A file backend numbers no updates: the summary has no version, the log shows none (never "None").
    assert real["first"]["xcom"]["infra"]["pulumi_summary"]["version"] is None
    assert not [line for line in real["first"]["log"] if "version" in line]
    # The engine's warning line reaches the task log at WARNING, so the UI's level filter finds it.
    warned = [line for line in real["first"]["log"] if "labels missing" in line]
    assert warned and all(line.startswith("[warning") for line in warned), real["first"]["log"]
    refreshed = real["second"]["xcom"]["infra_refresh"]["return_value"]
    assert refreshed["changes"] == {"same": 3, "update": 1}
    assert [(s["op"], s["name"]) for s in refreshed["steps"]] == [("update", "conf")]  # the drift
    assert real["files left"] == []
    for name in ("standin", "standin-exe"):
        preview = views[name]["first"]["xcom"]["infra_preview"]
        assert preview == real["first"]["xcom"]["infra_preview"], f"{name}'s preview differs from the real engine's"
        assert views[name] == real, f"{name} differs from the real engine"
