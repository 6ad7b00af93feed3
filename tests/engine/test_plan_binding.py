"""The engine's side of plan binding: a bound ``up`` plans again and checks that plan before it applies; with
``strict_plan`` it also holds the apply to that plan (Pulumi's update plans, real CLI only: the stand-in refuses
them with a ConfigurationError naming the fix). The program here answers differently on its third run (the
preview task, the ``up``'s re-plan, the ``up``'s apply), which only a strict ``up`` catches."""

from __future__ import annotations

import json

import pytest

from airflow_pulumi_decorators import ConfigurationError, PlanChangedError
from airflow_pulumi_decorators.engine import Engine, OperationRequest, RunContext
from airflow_pulumi_decorators.operations import OperationOptions
from airflow_pulumi_decorators.plans import PlanBasis, PlanBinding, PlanFingerprint

pytestmark = pytest.mark.integration


def _fickle(runs: list[int]):
    """A program whose image is ``api:1`` on its first two runs and ``api:2`` afterwards."""

    def program():
        from airflow_pulumi_decorators.testing.resources import Settings

        runs.append(1)
        Settings("svc", region="eu", image="api:1" if len(runs) <= 2 else "api:2")

    return program


def _run(engine, operation: str, program, *, binding: PlanBinding | None = None, strict: bool = False,
         work_root=None):
    options = OperationOptions(approved_plan="svc_preview", strict_plan=strict) if binding else OperationOptions()
    request = OperationRequest(project="bound", stack="dev", program=program, context=RunContext.from_env({}),
                               operation=operation, options=options, plan_basis=PlanBasis(), plan_binding=binding)
    lines: list[str] = []
    result = Engine(cli_path=engine.cli, pulumi_command=engine.command, on_output=lines.append,
                    work_root=str(work_root) if work_root else None).run(request)
    return result, lines


def _image(backend) -> str:
    state = json.loads((backend / ".pulumi" / "stacks" / "bound" / "dev.json").read_text())
    (svc,) = [r for r in state["checkpoint"]["latest"]["resources"] if r["urn"].endswith("::svc")]
    return str(svc["outputs"]["image"])


def _resources(backend) -> list[str]:
    path = backend / ".pulumi" / "stacks" / "bound" / "dev.json"
    if not path.exists():
        return []
    latest = json.loads(path.read_text())["checkpoint"]["latest"]
    return [r["urn"].rsplit("::", 1)[-1] for r in latest.get("resources") or [] if not r["type"].startswith("pulumi:")]


def _approved(engine, program, *, strict: bool) -> PlanBinding:
    preview, _ = _run(engine, "preview", program)
    approved = PlanFingerprint.of(preview.steps, PlanBasis(), cli_version=preview.cli_version,
                                  sdk_version=preview.sdk_version)
    return PlanBinding(approved=approved, basis=PlanBasis(), approved_task="svc_preview", stack="dev", strict=strict)


@pytest.mark.parametrize("engine", ["standin", "real"], indirect=True)
def test_a_bound_up_checks_its_replan_but_only_a_strict_one_holds_the_apply_to_it(engine, backend):
    runs: list[int] = []
    binding = _approved(engine, _fickle(runs), strict=False)
    result, lines = _run(engine, "up", _fickle(runs), binding=binding)
    # The re-plan (run 2) matched the approved preview (run 1); the apply (run 3) then declared api:2.
    assert "pulumi: the plan is the approved one; applying it" in lines
    assert result.changes.get("create") == 2 and _image(backend) == "api:2"


@pytest.mark.parametrize("engine", ["real"], indirect=True)
def test_a_strict_up_that_deviates_from_its_plan_is_refused_and_applies_nothing(engine, backend):
    runs: list[int] = []
    binding = _approved(engine, _fickle(runs), strict=True)
    with pytest.raises(PlanChangedError) as caught:
        _run(engine, "up", _fickle(runs), binding=binding, strict=True)
    assert "deviated from the plan approved in task 'svc_preview' (strict_plan)" in str(caught.value)
    assert "violates plan" in str(caught.value)
    assert _resources(backend) == []


@pytest.mark.parametrize("engine", ["real"], indirect=True)
def test_a_strict_up_that_keeps_to_its_plan_is_applied_and_leaves_no_plan_file(engine, backend, tmp_path):
    runs: list[int] = []
    program = _fickle(runs)
    binding = _approved(engine, program, strict=True)
    runs.clear()  # the up's re-plan and apply both see api:1
    work = tmp_path / "work"
    work.mkdir()
    result, lines = _run(engine, "up", program, binding=binding, strict=True, work_root=work)
    assert "(strict: the up is constrained to this plan)" in " ".join(lines)
    assert result.changes.get("create") == 2 and _image(backend) == "api:1"
    assert list(work.iterdir()) == []  # the plan file went with the run's work directory


@pytest.mark.parametrize("engine", ["standin"], indirect=True)
def test_strict_plan_on_the_standin_is_refused_with_the_fix(engine, backend):
    runs: list[int] = []
    binding = _approved(engine, _fickle(runs), strict=True)
    with pytest.raises(ConfigurationError, match=r"strict_plan=True needs a Pulumi CLI with update plans .*"
                                                 r"Use the real pulumi CLI .* or drop strict_plan"):
        _run(engine, "up", _fickle(runs), binding=binding, strict=True)
    assert _resources(backend) == []
