"""Property diffs on every engine: what a preview's steps, its task log and the approval body show of an
update (a string, a number, a nested dict, a list, a secret), a deletion and a replacement — the same on the
in-process stand-in, the ``pulumi-standin`` executable and the real CLI — and the secret's value nowhere a
user could see it (XCom, log, rendered fields, the approval body)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_pulumi_decorators.testing.hitl import respond_in_background
from tests.engines import ENGINES, engine_kit

pytestmark = pytest.mark.integration

PASSWORD = "pw-7f3a91c2e5"


def _log_block(output: str) -> list[str]:
    """The preview task's ``pulumi preview --diff``-like block, line by line."""
    found = re.search(r"pulumi preview: resource changes \(as `pulumi preview --diff` shows them\):\n"
                      r"((?:  .*\n)+)", output)
    assert found, output[-3000:]
    # The last line carries the logger's suffix (logger name, source location).
    return [re.sub(r" \[airflow\.task\.[^\]]*\] loc=\S+$", "", line) for line in found.group(1).splitlines()]


def _run_on(name: str, run_dag_file, tmp_path: Path, monkeypatch) -> dict[str, Any]:
    kit = engine_kit(name, tmp_path / name, monkeypatch)
    backend = tmp_path / name / "state"
    backend.mkdir(parents=True)
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{backend}")
    view: dict[str, Any] = {}
    for phase in ("first", "second", "third"):
        dag_id = f"t_pd_{name.replace('-', '_')}_{phase}"
        responder = respond_in_background(dag_id, "svc_approval", "Approve")
        began = time.monotonic()
        run = run_dag_file("property_diffs", engine=kit, dag_id=dag_id, phase=phase, password=PASSWORD)
        responder.join(5)
        assert run.state == "success", f"{name} {phase}: {run.output[-3000:]}"
        seen = json.dumps([run.xcoms, run.rendered], default=str) + run.output
        secret = f"{PASSWORD}-{phase}"
        assert secret not in seen, f"{name} {phase}: the secret password leaked"
        plan = run.xcom("svc_preview")
        view[phase] = {
            "changes": plan["changes"],
            "steps": sorted(({k: v for k, v in s.items() if k != "urn"} for s in plan["steps"]),
                            key=lambda s: (s["name"], s["op"])),
            "log": sorted(_log_block(run.output)),
            "body": run.rendered["svc_approval"]["body"],
            # The real engine runs independent steps in parallel: the resources' order varies.
            "body sections": sorted(part.strip() for part in run.rendered["svc_approval"]["body"].split("\n#### ")),
        }
        view[f"{phase} seconds"] = round(time.monotonic() - began, 1)
    return view


def test_every_engine_shows_the_same_property_diffs_and_never_the_secret(run_dag_file, tmp_path, monkeypatch):
    views = {name: _run_on(name, run_dag_file, tmp_path, monkeypatch) for name in ENGINES}
    timings = {name: {k: v for k, v in view.items() if k.endswith("seconds")} for name, view in views.items()}
    print(f"property diffs, seconds per DAG run: {timings}")
    for phase in ("second", "third"):
        print(f"--- approval body, {phase} run, real CLI ---\n{views['real'][phase]['body']}--- end ---")
    real = {k: v for k, v in views["real"].items() if not k.endswith("seconds")}
    # What the scenario shows, so equal views are not equal by being empty.
    assert real["second"]["changes"] == {"update": 1, "delete": 1, "same": 1}
    update, delete = real["second"]["steps"][1], real["second"]["steps"][0]
    assert (update["op"], update["name"], delete["op"], delete["name"]) == ("update", "svc", "delete", "old")
    assert update["diff"] == [
        {"path": "image", "kind": "update", "old": '"api:1.4.2"', "new": '"api:1.5.0"'},
        {"path": "members[1]", "kind": "update", "old": '"b"', "new": '"c"'},
        {"path": "members[2]", "kind": "add", "new": '"d"'},
        {"path": "replicas", "kind": "update", "old": "2", "new": "3"},
        {"path": "scaling.cpu.target", "kind": "update", "old": "60", "new": "70"},
        {"path": "scaling.max", "kind": "update", "old": "3", "new": "5"},
    ]
    assert {"path": "region", "kind": "delete", "old": '"eu"'} in delete["diff"]
    created = {s["name"]: s for s in real["first"]["steps"]}["svc"]
    assert {"path": "password", "kind": "add", "new": "[secret]"} in created["diff"]
    (replace,) = real["third"]["steps"]
    assert (replace["op"], replace["replace_keys"]) == ("replace", ["region"])
    assert replace["diff"] == [{"path": "region", "kind": "update", "old": '"eu"', "new": '"us"', "replace": True}]
    assert '      ~ region: "eu" => "us"  [forces replacement]' in real["third"]["log"]
    assert real["second"]["body sections"] == [
        "### Planned changes on stack `prod` (project `diffs`)\n\n- **delete**: 1\n- **same**: 1\n- **update**: 1",
        "`update` pulumi-python:dynamic/apd:Settings **svc**\n\n```diff\n"
        '- image: "api:1.4.2"\n+ image: "api:1.5.0"\n- members[1]: "b"\n+ members[1]: "c"\n+ members[2]: "d"\n'
        "- replicas: 2\n+ replicas: 3\n- scaling.cpu.target: 60\n+ scaling.cpu.target: 70\n"
        "- scaling.max: 3\n+ scaling.max: 5\n```",
        "⚠ `delete` pulumi-python:dynamic/apd:Settings **old**\n\n```diff\n"
        '- image: "worker:1"\n- members: []\n- region: "eu"\n- replicas: 1\n- scaling: {}\n```',
    ]
    body = real["second"]["body"]
    assert "#### `update` pulumi-python:dynamic/apd:Settings **svc**\n\n```diff\n" in body
    assert '- image: "api:1.4.2"\n+ image: "api:1.5.0"\n' in body
    assert "#### ⚠ `delete` pulumi-python:dynamic/apd:Settings **old**" in body
    assert ("#### ⚠ `replace` pulumi-python:dynamic/apd:Settings **svc** (replaced because `region` changed)"
            in real["third"]["body"])
    for name in ("standin", "standin-exe"):
        other = {k: v for k, v in views[name].items() if not k.endswith("seconds")}
        for phase in ("first", "second", "third"):
            other[phase].pop("body")
            real[phase].pop("body", None)
        assert other == real, f"{name} differs from the real engine"
