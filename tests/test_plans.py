"""Plan fingerprints and their comparison (:mod:`airflow_pulumi_decorators.plans`): what a PlanChangedError names,
that no secret is stored in a form that can be guessed, and how an ``up`` is bound to its preview (options and
the parse-time check)."""

from __future__ import annotations

import hashlib
import json

import pendulum
import pytest
from airflow.sdk import dag

from airflow_pulumi_decorators import ConfigurationError, OperationOptions, PlanChangedError, pulumi_stack
from airflow_pulumi_decorators.plans import (
    MAX_NAMED,
    SECRET_PRESENT,
    PlanBasis,
    PlanFingerprint,
    check_plan,
    differences,
    secret_key,
)

T = "random:index/randomPet:RandomPet"


def _step(op, name, *diff, type_=T):
    return {"op": op, "urn": f"urn:pulumi:prod::p::{type_}::{name}", "type": type_, "name": name, "diff": list(diff)}


def _update(path, old, new, **extra):
    return {"path": path, "kind": "update", "old": old, "new": new, **extra}


def _plan(steps=(), *, inputs=(), kwargs=None, config=None, secret_config=None, key=None, cli="3.274.1",
          sdk="3.272.0", is_secret=lambda _v: False):
    basis = PlanBasis.of(list(inputs), kwargs or {}, config or {}, secret_config or {}, key=key, is_secret=is_secret)
    return PlanFingerprint.of(list(steps), basis, cli_version=cli, sdk_version=sdk)


def test_the_same_plan_has_no_differences_whatever_order_the_engine_reported_its_steps_in():
    a, b = _step("create", "a"), _step("update", "b", _update("length", "2", "3"))
    assert differences(_plan([a, b], inputs=["x"]), _plan([b, a], inputs=["x"])) == []
    assert _plan([a, b]).digest == _plan([b, a]).digest
    assert _plan([a, b]).digest != _plan([a]).digest


@pytest.mark.parametrize(("approved", "now", "expected"), [
    (_plan(inputs=["api:1"]), _plan(inputs=["api:2"]), ["inputs changed: input `args[0]` changed"]),
    (_plan(kwargs={"region": "eu"}), _plan(kwargs={}), ["inputs changed: input `region` was removed"]),
    (_plan(config={"svc:tier": "gold"}), _plan(config={"svc:tier": "silver"}), ["config key `svc:tier` changed"]),
    (_plan(config={}), _plan(config={"svc:x": "1"}), ["config key `svc:x` was added"]),
    (_plan(cli="3.274.1"), _plan(cli="3.275.0"), ["CLI version 3.274.1 → 3.275.0"]),
    (_plan(sdk="3.272.0"), _plan(sdk="3.273.0"), ["SDK version 3.272.0 → 3.273.0"]),
    (_plan([_step("update", "a", _update("region", '"eu"', '"us"'))]),
     _plan([_step("replace", "a", _update("region", '"eu"', '"us"', replace=True))]),
     [f"step `update {T} a` is now `replace`"]),
    (_plan([]), _plan([_step("delete", "old")]), [f"new step `delete {T} old`"]),
    (_plan([_step("create", "a")]), _plan([]), [f"step `create {T} a` is no longer planned"]),
    (_plan([_step("update", "a", _update("image", '"api:1"', '"api:2"'))]),
     _plan([_step("update", "a", _update("image", '"api:1"', '"api:3"'))]),
     [f'step `update {T} a` changes differently: approved `update {T} a | image: "api:1"=>"api:2"`, '
      f'now `update {T} a | image: "api:1"=>"api:3"`']),
])
def test_each_difference_is_named(approved, now, expected):
    assert differences(approved, now) == expected


def test_plan_changed_error_names_the_changes_and_says_nothing_was_applied():
    with pytest.raises(PlanChangedError) as caught:
        check_plan(_plan(config={"svc:tier": "gold"}, inputs=["a"]), _plan(config={"svc:tier": "x"}, inputs=["b"]),
                   stack="prod", approved_task="svc_preview")
    assert str(caught.value) == (
        "refusing to apply on stack 'prod': the plan changed since it was approved in task 'svc_preview': "
        "inputs changed: input `args[0]` changed; config key `svc:tier` changed. Nothing was applied. Run the "
        "preview again and approve the new plan."
    )
    assert caught.value.changes == ["inputs changed: input `args[0]` changed", "config key `svc:tier` changed"]
    assert (caught.value.stack, caught.value.operation) == ("prod", "up")


def test_a_long_list_of_differences_is_cut_in_the_message_but_kept_whole_on_the_error():
    many = {f"k{i:02}": "1" for i in range(MAX_NAMED + 3)}
    with pytest.raises(PlanChangedError) as caught:
        check_plan(_plan(config=many), _plan(config=dict.fromkeys(many, "2")), stack="s", approved_task="p")
    assert "; and 3 more. Nothing was applied" in str(caught.value)
    assert len(caught.value.changes) == MAX_NAMED + 3


def test_an_unchanged_plan_passes():
    check_plan(_plan(inputs=["a"]), _plan(inputs=["a"]), stack="s", approved_task="p")


LOW_ENTROPY = "hunter2"


def test_a_secret_is_keyed_with_the_passphrase_never_stored_plain_or_as_a_plain_hash():
    key = secret_key({"PULUMI_CONFIG_PASSPHRASE": "stack-passphrase"}, {}, project="p", stack="prod")
    plan = _plan(secret_config={"db:password": LOW_ENTROPY}, kwargs={"token": LOW_ENTROPY}, key=key,
                 is_secret=lambda v: v == LOW_ENTROPY).to_xcom()
    text = json.dumps(plan)
    plain_hash = hashlib.sha256(json.dumps(LOW_ENTROPY).encode()).hexdigest()
    assert LOW_ENTROPY not in text and plain_hash[:32] not in text
    assert plan["config"]["db:password"].startswith("hmac:") and plan["inputs"]["token"].startswith("hmac:")
    assert plan["secrets"] == "keyed"
    # A changed secret is detected; the same secret under another stack's key does not match.
    changed = _plan(secret_config={"db:password": LOW_ENTROPY + "!"}, key=key)
    assert "config key `db:password` changed" in differences(_plan(secret_config={"db:password": LOW_ENTROPY},
                                                                   key=key), changed)
    other = secret_key({"PULUMI_CONFIG_PASSPHRASE": "stack-passphrase"}, {}, project="p", stack="dev")
    assert other != key


def test_without_a_passphrase_a_secret_is_only_marked_present_so_its_change_is_not_seen():
    assert secret_key({}, {}, project="p", stack="s") is None
    before = _plan(secret_config={"db:password": "one"}).to_xcom()
    after = _plan(secret_config={"db:password": "two"})
    assert before["config"]["db:password"] == SECRET_PRESENT and before["secrets"] == "presence"
    assert differences(PlanFingerprint.from_xcom(before), after) == []  # the documented limit


def test_the_passphrase_comes_from_the_run_then_the_worker_then_its_file(tmp_path):
    file = tmp_path / "pass"
    file.write_text("from-file\n")
    run = secret_key({"PULUMI_CONFIG_PASSPHRASE": "run"}, {"PULUMI_CONFIG_PASSPHRASE": "worker"}, project="p",
                     stack="s")
    worker = secret_key({}, {"PULUMI_CONFIG_PASSPHRASE": "worker"}, project="p", stack="s")
    from_file = secret_key({}, {"PULUMI_CONFIG_PASSPHRASE_FILE": str(file)}, project="p", stack="s")
    assert len({run, worker, from_file}) == 3 and None not in {run, worker, from_file}
    assert from_file == secret_key({"PULUMI_CONFIG_PASSPHRASE": "from-file"}, {}, project="p", stack="s")


def test_a_fingerprint_round_trips_through_xcom_and_a_foreign_value_is_refused():
    plan = _plan([_step("create", "a")], inputs=["x"], config={"k": "v"})
    assert PlanFingerprint.from_xcom(json.loads(json.dumps(plan.to_xcom()))) == plan
    with pytest.raises(ValueError, match="not a plan fingerprint"):
        PlanFingerprint.from_xcom({"steps": {}})


# -- binding an up to its preview ----------------------------------------------------------------------------


@pytest.mark.parametrize(("options", "message"), [
    ({"approved_plan": ""}, "'approved_plan'='' must be the task id of the preview"),
    ({"approved_plan": 3}, "'approved_plan'=3 must be the task id"),
    ({"strict_plan": True}, "'strict_plan'=True needs 'approved_plan'"),
])
def test_bad_plan_binding_options_are_refused(options, message):
    with pytest.raises(ConfigurationError, match=message):
        OperationOptions(**options)


def test_plan_binding_applies_to_up_only():
    with pytest.raises(ConfigurationError, match="'approved_plan' applies to operation='up', not 'preview'"):
        OperationOptions.for_task("preview", OperationOptions(approved_plan="x_preview"))


def _dag_of(build):
    @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))
    def d():
        build()

    return d()


def infra():
    return {}


def other():
    return {}


def test_with_approval_binds_the_up_to_its_preview():
    fn = pulumi_stack(project="p", stack="prod")(infra)
    built = _dag_of(lambda: fn.with_approval())
    assert built.task_dict["infra"].options.approved_plan == "infra_preview"
    assert built.task_dict["infra"].options.strict_plan is False
    strict = _dag_of(lambda: fn.with_approval(strict_plan=True))
    assert strict.task_dict["infra"].options.strict_plan is True


def test_an_up_bound_by_hand_to_its_preview_is_accepted():
    fn = pulumi_stack(project="p", stack="prod")(infra)

    def build():
        fn.preview()
        fn.override(approved_plan="infra_preview")()

    assert _dag_of(build).task_dict["infra"].options.approved_plan == "infra_preview"


@pytest.mark.parametrize(("build", "message"), [
    (lambda: pulumi_stack(project="p", stack="prod", approved_plan="nope")(infra)(),
     "'approved_plan'='nope' of task 'infra': DAG .* has no task 'nope'"),
    (lambda: (pulumi_stack(project="p", stack="prod")(infra).refresh(),
              pulumi_stack(project="p", stack="prod", approved_plan="infra_refresh")(infra)()),
     "is not a preview of the same program and project: its operation is 'refresh'"),
    (lambda: (pulumi_stack(project="q", stack="prod")(infra).preview(),
              pulumi_stack(project="p", stack="prod", approved_plan="infra_preview")(infra)()),
     "its project is 'q', not 'p'"),
    (lambda: (pulumi_stack(project="p", stack="prod")(other).preview(),
              pulumi_stack(project="p", stack="prod", approved_plan="other_preview")(infra)()),
     r"it runs other\(\), not infra\(\)"),
])
def test_an_up_bound_to_something_else_than_its_preview_is_refused_at_parse_time(build, message):
    with pytest.raises(ConfigurationError, match=message):
        _dag_of(build)


class _TI:
    map_index = 2

    def __init__(self, value):
        self.value, self.asked = value, []

    def xcom_pull(self, **kwargs):
        self.asked.append(kwargs)
        return self.value


def test_a_bound_up_reads_the_same_map_index_and_refuses_when_the_preview_pushed_no_plan():
    from airflow_pulumi_decorators.prepare.plan import _approved

    plan = _plan([_step("create", "a")])
    ti = _TI({"changes": {}, "plan": plan.to_xcom()})
    assert _approved(ti, "infra_preview", "prod") == plan
    assert ti.asked == [{"task_ids": "infra_preview", "map_indexes": 2}]
    with pytest.raises(PlanChangedError, match=r"no approved plan was found in the XCom of task 'infra_preview' "
                                               r"\(map index 2\).*nothing was applied"):
        _approved(_TI(None), "infra_preview", "prod")
