"""The operation vocabulary (:mod:`airflow_pulumi_decorators.operations`): names, options, the protected check,
the summary key, and the operations a decorated function offers (no engine run)."""

from __future__ import annotations

import dataclasses
import datetime

import pendulum
import pytest
from airflow.sdk import DAG, dag

from airflow_pulumi_decorators import Environment, PulumiStackOperator, pulumi_stack
from airflow_pulumi_decorators.errors import ConfigurationError, ProtectedStackError
from airflow_pulumi_decorators.operations import (
    OPERATIONS,
    OPTION_KEYWORDS,
    SUMMARY_KEY,
    OperationOptions,
    check_protected,
    describe_operation,
    pop_option_keywords,
)


# OperationOptions.for_task is the one way in; these name the ways a task gives its options.
def operation_options(operation, options=None, /, **keywords):
    """A task that gives its options as keywords (or grouped), checked against its operation."""
    return OperationOptions.for_task(operation, options, keywords)


def grouped_options(options, keywords):
    """``partial``: no operation to check against yet."""
    return OperationOptions.for_task(None, options, keywords)


def task_options(operation, options, keywords, default_args):
    """The operator: ``default_args`` are defaults."""
    return OperationOptions.for_task(operation, options, keywords, default_args=default_args)


def test_unknown_operation_is_refused_with_the_known_ones():
    with pytest.raises(ConfigurationError, match="'operation'='apply' is not one of up, preview, refresh, destroy"):
        operation_options("apply")


@pytest.mark.parametrize(
    ("operation", "flag", "allowed"),
    [
        ("up", "remove_stack", "destroy"),
        ("up", "preview_only", "refresh"),
        ("destroy", "policy_packs", "up"),
        ("destroy", "expect_no_changes", "up"),
        ("refresh", "refresh", "up"),
        ("destroy", "clear_pending_creates", "refresh"),
    ],
)
def test_options_that_do_not_apply_are_refused_naming_both(operation, flag, allowed):
    value = ["p"] if flag == "policy_packs" else True
    with pytest.raises(ConfigurationError, match=f"'{flag}' applies to operation=.*'{allowed}'.*not '{operation}'"):
        operation_options(operation, **{flag: value})


def test_lock_wait_accepts_seconds_and_timedeltas_and_refuses_the_rest():
    assert operation_options("up", lock_wait=datetime.timedelta(minutes=2)).lock_wait == 120
    assert operation_options("up", lock_wait=5).lock_wait == 5
    with pytest.raises(ConfigurationError, match="'lock_wait'=-1"):
        operation_options("up", lock_wait=-1)


def test_policy_pack_configs_must_match_the_packs():
    with pytest.raises(ConfigurationError, match="one config file per pack"):
        operation_options("up", policy_packs=["a", "b"], policy_pack_configs=["a.json"])
    with pytest.raises(ConfigurationError, match="list of paths"):
        operation_options("up", policy_packs="a")


def test_options_are_given_grouped_or_as_keywords_never_both():
    kwargs = {"lock_wait": 5, "refresh": True, "retries": 2}
    keywords = pop_option_keywords(kwargs)
    assert keywords == {"refresh": True, "lock_wait": 5} and kwargs == {"retries": 2}
    assert grouped_options(None, keywords) == OperationOptions(refresh=True, lock_wait=5)
    assert grouped_options(OperationOptions(lock_wait=5), {}) == OperationOptions(lock_wait=5)
    with pytest.raises(ConfigurationError, match="both 'options' and the option keyword 'refresh' were given"):
        grouped_options(OperationOptions(), {"refresh": True})
    with pytest.raises(ConfigurationError, match="'options' must be an OperationOptions"):
        grouped_options({"refresh": True}, {})
    assert {f.name for f in dataclasses.fields(OperationOptions)} - set(OPTION_KEYWORDS) == {"lock_retry_delay"}


def test_default_args_options_are_defaults():
    grouped = OperationOptions(lock_wait=11)
    # options from default_args: the task's keywords refine them
    assert task_options("up", grouped, {"refresh": True}, {"options": grouped}) == OperationOptions(
        lock_wait=11, refresh=True
    )
    # option keywords from default_args: the task's own win; a task's own options are the whole set
    assert task_options("up", None, {"lock_wait": 3}, {"lock_wait": 7, "refresh": True}) == OperationOptions(
        lock_wait=3, refresh=True
    )
    assert task_options("up", OperationOptions(), {}, {"lock_wait": 7}) == OperationOptions()
    with pytest.raises(ConfigurationError, match="'remove_stack' applies to operation='destroy'"):
        task_options("up", OperationOptions(remove_stack=True), {}, None)


def test_the_decorator_refines_options_with_keywords_from_override():
    declared = OperationOptions(lock_wait=11, refresh=True)
    refined = OperationOptions.for_task(None, declared, {"lock_wait": 3}, refines=True)
    assert refined == OperationOptions(lock_wait=3, refresh=True)
    assert OperationOptions.for_task(None, declared, {}, refines=True) is declared
    with pytest.raises(ConfigurationError, match="'remove_stack' applies to operation='destroy'"):
        OperationOptions.for_task("up", declared, {"remove_stack": True}, refines=True)


def test_a_drift_check_is_named_as_one_in_the_log():
    assert describe_operation("up", OperationOptions()) == "up"
    assert describe_operation("preview", OperationOptions(expect_no_changes=True)) == (
        "drift check (preview; fails on any change)"
    )
    assert describe_operation("refresh", OperationOptions(expect_no_changes=True, refresh=True)) == (
        "drift check (refresh, refresh first; fails on any change)"
    )


def test_operation_options_check_and_normalise_themselves():
    options = OperationOptions(lock_wait=datetime.timedelta(seconds=90), policy_packs=["p"], refresh=1)
    assert (options.lock_wait, options.policy_packs, options.refresh) == (90.0, ("p",), True)
    assert dataclasses.replace(options, refresh=False).policy_packs == ("p",)
    with pytest.raises(ConfigurationError, match="'kill_grace_period'=-1"):
        OperationOptions(kill_grace_period=-1)
    with pytest.raises(ConfigurationError, match="one config file per pack"):
        OperationOptions(policy_pack_configs=["a.json"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.refresh = False  # type: ignore[misc]


def test_one_vocabulary_for_operations_and_the_summary_key():
    from airflow_pulumi_decorators import PulumiStackOperator
    from airflow_pulumi_decorators.approvals import approval_body
    from airflow_pulumi_decorators.outputs import RESERVED_KEYS

    assert OPERATIONS == ("up", "preview", "refresh", "destroy")
    assert PulumiStackOperator.summary_key == SUMMARY_KEY == "pulumi_summary"
    assert SUMMARY_KEY in RESERVED_KEYS
    assert f"key='{SUMMARY_KEY}'" in approval_body("x_preview")


def test_protected_environment_refuses_destroy_unless_allowed():
    prod = Environment(stack="prod", protected=True)
    options = operation_options("destroy", remove_stack=True)
    with pytest.raises(ProtectedStackError, match="refusing to destroy and remove stack 'prod'"):
        check_protected("prod", prod, options, allow=False, operation="destroy", task_id="t")
    check_protected("prod", prod, options, allow=True, operation="destroy")
    check_protected("prod", prod, operation_options("up"), allow=False, operation="up")
    check_protected("dev", Environment(stack="dev"), options, allow=False, operation="destroy")


def test_protected_destroy_refusal_gives_the_exact_way_to_allow_it_and_that_way_works():
    from airflow_pulumi_decorators import pulumi_stack

    envs = {"prod": Environment(stack="prod", protected=True)}

    @pulumi_stack(project="infra", environments=envs)
    def storage():
        return {}

    @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))
    def refused():
        storage.destroy()

    with pytest.raises(ProtectedStackError) as caught:
        refused()
    text = str(caught.value)
    assert "allow it on task 'storage_destroy': storage.override(allow_destroy_protected=True).destroy(...)" in text
    assert "@pulumi_stack(..., operation='destroy', allow_destroy_protected=True)" in text

    @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))
    def allowed():
        storage.override(allow_destroy_protected=True).destroy()

    assert allowed().get_task("storage_destroy").allow_destroy_protected

    @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))
    def teardown():
        with storage.ephemeral():
            pass

    with pytest.raises(
        ProtectedStackError, match=r"storage\.override\(allow_destroy_protected=True\)\.ephemeral\(\.\.\.\)"
    ):
        teardown()


def test_decorated_function_offers_every_operation_with_its_own_task_id():
    import pendulum
    from airflow.sdk import dag

    from airflow_pulumi_decorators import pulumi_stack

    @dag(dag_id="ops", schedule=None, start_date=pendulum.datetime(2026, 1, 1))
    def d():
        @pulumi_stack(project="p", stack="dev")
        def infra(size: int):
            return {"size": size}

        infra(size=1)
        infra.preview(size=1)
        infra.refresh(size=1)
        infra.destroy(size=1)
        infra.drift_check(size=1)
        with infra.override(task_id="eph", stack="eph").ephemeral(size=2):
            pass

    tasks = d().task_dict
    assert {t: tasks[t].operation for t in tasks} == {
        "infra": "up", "infra_preview": "preview", "infra_refresh": "refresh", "infra_destroy": "destroy",
        "infra_drift_check": "preview", "eph": "up", "eph_teardown": "destroy",
    }
    assert tasks["infra_drift_check"].options.expect_no_changes and tasks["infra_drift_check"].options.refresh
    assert tasks["eph"].is_setup and tasks["eph_teardown"].is_teardown
    assert tasks["eph_teardown"].options.remove_stack
    assert tasks["infra"].outlets and not tasks["infra_preview"].outlets  # asset events only for up ...
    assert [a.name for a in tasks["infra_drift_check"].outlets] == ["pulumi-drift:p"]  # ... and drift checks
    assert tasks["infra_drift_check"].drift_check and not tasks["infra_preview"].drift_check


def test_drift_check_that_does_not_fail_on_drift_still_refreshes_and_emits_its_drift_event():
    with DAG("drift_options", schedule=None, start_date=pendulum.datetime(2026, 1, 1)) as dag:
        @pulumi_stack(project="p", stack="dev")
        def infra():
            return {}

        infra.drift_check(fail_on_drift=False)
        infra.override(preview_only=True).refresh()
        infra.override(refresh=True).preview()
    tasks = dag.task_dict
    check = tasks["infra_drift_check"]
    assert check.options.refresh and not check.options.expect_no_changes and check.emit_drift_event
    watch = tasks["infra_refresh"]
    assert watch.emit_drift_event and [a.name for a in watch.outlets] == ["pulumi-drift:p"]
    assert not tasks["infra_preview"].emit_drift_event and not tasks["infra_preview"].outlets


def test_drift_check_flag_needs_a_refreshing_preview():
    with pytest.raises(ConfigurationError, match="'drift_check'=True needs operation='preview' with refresh=True"):
        PulumiStackOperator(task_id="t", program=lambda: None, project="p", stack="dev", operation="up",
                            drift_check=True)


def test_clear_pending_creates_applies_to_up_as_the_one_option_recovery():
    assert operation_options("up", clear_pending_creates=True).clear_pending_creates is True
    assert operation_options("refresh", clear_pending_creates=True).clear_pending_creates is True
