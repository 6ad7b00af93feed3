"""Plan-bound apply on real DAG runs, on the stand-in and the real CLI: the ``up`` after an approval plans again
and applies only the plan that was approved. Changed between the preview and the approval — the program's input,
the stack config, the secret config, a resource out of band — it fails with PlanChangedError naming what changed
and applies nothing; the secret's value is nowhere in the fingerprint (nor any XCom)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_pulumi_decorators.testing.hitl import respond_in_background
from tests.engines import engine_kit

pytestmark = pytest.mark.integration

PASSWORD = "pw-plan-51d0c7e3"
BOUND_ENGINES = ("standin", "real")


def _set_variable(key: str, value: str) -> None:
    from airflow.models import Variable

    Variable.set(key, value)


def _state(backend: Path) -> dict[str, dict[str, Any]]:
    """The stack's resources by name: their outputs as the state has them."""
    path = backend / ".pulumi" / "stacks" / "bound" / "prod.json"
    state = json.loads(path.read_text())
    return {r["urn"].rsplit("::", 1)[-1]: r.get("outputs", {}) for r in state["checkpoint"]["latest"]["resources"]
            if not r["type"].startswith("pulumi:")}


class Scenario:
    """One engine's stack: a backend, the file of ``conf``, the Variables the DAG reads."""

    def __init__(self, name: str, run_dag_file, tmp_path: Path, monkeypatch) -> None:
        self.name, self.run_dag_file = name, run_dag_file
        self.kit = engine_kit(name, tmp_path / name, monkeypatch)
        self.backend = tmp_path / name / "state"
        self.backend.mkdir(parents=True)
        monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{self.backend}")
        self.path = tmp_path / name / "conf.txt"
        self.prefix = f"apd_plan_{name.replace('-', '_')}"
        for key, value in (("image", "api:1"), ("tier", "gold"), ("password", PASSWORD)):
            _set_variable(f"{self.prefix}_{key}", value)
        self.runs = 0

    def run(self, change=None, *, strict: bool = False):
        """One DAG run: preview → approval (``change`` made while it waits) → bound up."""
        self.runs += 1
        dag_id = f"t_plan_{self.prefix}_{self.runs}"
        responder = respond_in_background(dag_id, "svc_approval", "Approve", before=change)
        began = time.monotonic()
        result = self.run_dag_file("plan_binding", engine=self.kit, dag_id=dag_id, var_prefix=self.prefix,
                                   path=str(self.path), strict=strict)
        responder.join(5)
        result.seconds = round(time.monotonic() - began, 1)
        seen = json.dumps([result.xcoms, result.rendered], default=str) + result.output
        assert PASSWORD not in seen, f"{self.name}: the secret password leaked"
        return result


@pytest.fixture
def scenario(request, run_dag_file, tmp_path, monkeypatch):
    return Scenario(request.param, run_dag_file, tmp_path, monkeypatch)


def _refused(result) -> str:
    assert result.task_states == {"svc_preview": "success", "svc_approval": "success", "svc": "failed"}, \
        result.output[-3000:]
    assert "PlanChangedError" in result.output
    return result.output


@pytest.mark.parametrize("scenario", BOUND_ENGINES, indirect=True)
def test_an_unchanged_plan_is_applied_and_a_changed_one_is_refused_with_nothing_applied(scenario):
    first = scenario.run()
    assert first.state == "success", first.output[-3000:]
    plan = first.xcom("svc_preview")["plan"]
    assert sorted(plan) == ["cli_version", "config", "fingerprint", "inputs", "sdk_version", "secrets", "steps"]
    assert plan["secrets"] == "keyed"  # the suite's backend has a passphrase
    assert set(plan["config"]) == {"svc:password", "svc:tier"} and plan["config"]["svc:password"].startswith("hmac:")
    assert sorted(v.split(" | ")[0] for v in plan["steps"].values()) == [
        "create pulumi-python:dynamic/apd:LocalFile conf", "create pulumi-python:dynamic/apd:Settings svc",
        "create pulumi:pulumi:Stack bound-prod"]
    assert "planning again to compare with the plan approved in task 'svc_preview'" in first.output
    applied = _state(scenario.backend)
    assert applied["svc"]["image"] == "api:1" and scenario.path.read_text() == "v1"

    # the program's input changes between the preview and the approval
    refused = _refused(scenario.run(lambda: _set_variable(f"{scenario.prefix}_image", "api:2")))
    assert "inputs changed: input `args[0]` changed" in refused
    assert "step `update pulumi-python:dynamic/apd:Settings svc` changes differently" not in refused  # no step
    assert _state(scenario.backend) == applied
    _set_variable(f"{scenario.prefix}_image", "api:1")

    # the plain config changes
    refused = _refused(scenario.run(lambda: _set_variable(f"{scenario.prefix}_tier", "silver")))
    assert "config key `svc:tier` changed" in refused
    assert "new step `update pulumi-python:dynamic/apd:Settings svc`" in refused
    assert _state(scenario.backend) == applied
    _set_variable(f"{scenario.prefix}_tier", "gold")

    # the secret config changes: its keyed digest tells, its value is in no XCom
    refused = _refused(scenario.run(lambda: _set_variable(f"{scenario.prefix}_password", PASSWORD + "-new")))
    assert "config key `svc:password` changed" in refused
    assert _state(scenario.backend) == applied
    _set_variable(f"{scenario.prefix}_password", PASSWORD)

    # the resource changes out of band (its file is edited; the up refreshes first and sees it)
    refused = _refused(scenario.run(lambda: scenario.path.write_text("edited")))
    assert "new step `update pulumi-python:dynamic/apd:LocalFile conf`" in refused
    assert scenario.path.read_text() == "edited"  # not rewritten: nothing was applied
    assert _state(scenario.backend) == applied

    # nothing changed: applied
    scenario.path.write_text("v1")
    again = scenario.run()
    assert again.state == "success", again.output[-3000:]
    assert again.task_states["svc"] == "success"


@pytest.mark.parametrize("engine", ["standin"], indirect=True)
def test_a_mapped_up_is_bound_map_index_to_map_index(engine, run_dag_file):
    var = f"apd_mapped_{time.monotonic_ns()}"
    result = run_dag_file("mapped_plan_binding", engine=engine, var=var)
    assert result.state == "success", result.output[-3000:]
    assert result.output.count("pulumi: the plan is the approved one; applying it") == 3
    # The image of map index 1 alone differs at the up: that index, and only it, is refused.
    _set_variable(var, "1")
    changed = run_dag_file("mapped_plan_binding", engine=engine, var=var)
    assert changed.state == "failed"
    assert changed.output.count("inputs changed: input `image` changed") == 1
    assert changed.output.count("pulumi: the plan is the approved one; applying it") == 2
