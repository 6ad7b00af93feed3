"""Parse-time checks and the small pure pieces of operations, locks, links and assets (no engine run)."""

from __future__ import annotations

import dataclasses
import datetime
import os
import socket

import pendulum
import pytest
from airflow.sdk import dag

from airflow_pulumi_decorators import Environment
from airflow_pulumi_decorators.backend_url import BackendUrl
from airflow_pulumi_decorators.errors import ConfigurationError, ProtectedStackError
from airflow_pulumi_decorators.lifecycle import stack_name_filter
from airflow_pulumi_decorators.links import update_url
from airflow_pulumi_decorators.locks import holder_note, parse_lock_holder, with_airflow_holder
from airflow_pulumi_decorators.operations import (
    OPERATIONS,
    OPTION_KEYWORDS,
    SUMMARY_KEY,
    OperationOptions,
    check_protected,
    grouped_options,
    operation_options,
    pop_option_keywords,
    task_options,
)


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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("feature/Login+SSO", "feature-Login-SSO"),
        ("manual__2026-01-01T00:00:00+00:00", "manual__2026-01-01T00-00-00-00-00"),
        ("///", "stack"),
    ],
)
def test_stack_name_filter_makes_valid_stack_names(text, expected):
    assert stack_name_filter(text) == expected


def test_stack_name_filter_shortens_long_names_without_collisions():
    a, b = stack_name_filter("x" * 150 + "a"), stack_name_filter("x" * 150 + "b")
    assert len(a) == len(b) == 100 and a != b


def test_lock_holder_is_parsed_from_pulumis_message_and_stale_when_the_process_is_gone():
    dead_pid = 2**22 + 12345
    text = (
        "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or "
        "delete the lock file with `pulumi cancel`.\n"
        f"  /s/.pulumi/locks/p/dev/x.json: created by alice@{socket.gethostname()} (pid {dead_pid}) at "
        "2026-01-01T00:00:00.000Z"
    )
    holder = parse_lock_holder(text)
    assert (holder.user, holder.pid, holder.since) == ("alice", dead_pid, "2026-01-01T00:00:00.000Z")
    assert holder.stale and "no longer running" in holder.describe()
    alive = parse_lock_holder(text.replace(str(dead_pid), str(os.getpid())))
    assert not alive.stale
    assert parse_lock_holder("[409] Conflict: Another update is currently in progress.").describe().startswith(
        "an unknown holder"
    )


def test_holder_note_names_the_airflow_run_only_while_it_runs(tmp_path):
    url = BackendUrl(f"file://{tmp_path}")
    holder = parse_lock_holder("created by bob@elsewhere (pid 7) at " + datetime.datetime.now(
        datetime.timezone.utc).isoformat())
    notes = tmp_path / ".pulumi" / "airflow-holders" / "p" / "dev"
    with holder_note(url, "p", "dev", "airflow: dag_id=d run_id=r task_id=t try=1"):
        note = next(notes.glob("*.json"))
        other = notes / "99999999-other.json"  # as if written by another worker
        other.write_text(note.read_text())
        found = with_airflow_holder(holder, url, "p", "dev")
    assert found.airflow == "dag_id=d run_id=r task_id=t try=1"
    assert list(notes.glob("*.json")) == [other]  # ours is gone
    assert with_airflow_holder(holder, BackendUrl("gs://bucket"), "p", "dev").airflow is None


def test_update_link_only_for_pulumi_cloud_with_an_organization():
    assert update_url("https://api.pulumi.com", "net", "acme/prod", 7) == "https://app.pulumi.com/acme/net/prod/updates/7"
    assert update_url("https://api.pulumi.com", "net", "acme/other/prod", None) == "https://app.pulumi.com/acme/other/prod"
    assert update_url("https://api.pulumi.com", "net", "prod", 7) is None
    assert update_url("file:///state", "net", "acme/prod", 7) is None
    assert update_url("gs://bucket", "net", "acme/prod", 7) is None


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
    assert tasks["infra"].outlets and not tasks["infra_preview"].outlets  # asset events only for up
