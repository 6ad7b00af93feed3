"""``PulumiStackOperator`` on its own: ``execute()`` with a fake engine (no Pulumi process, no CLI), and how
the operator takes its operation options.

The fake engine has the engine's public shape, ``run(request) -> result`` and ``stop()``; it is given to the
operator through ``_make_engine``. Requests are read by field name, so the request type may gain fields.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
from typing import Any

import pendulum
import pytest
from airflow.sdk import DAG

from airflow_pulumi_decorators import (
    ConcurrentUpdateError,
    ConfigurationError,
    Environment,
    OperationOptions,
    PulumiStackOperator,
    pulumi_stack,
)
from airflow_pulumi_decorators import operator as operator_module
from airflow_pulumi_decorators.engine import OperationResult
from airflow_pulumi_decorators.operations import SUMMARY_KEY
from airflow_pulumi_decorators.outputs import StackOutput, is_withheld_output

START = pendulum.datetime(2026, 1, 1)


# -- the fake engine --------------------------------------------------------------------------------------


def make_result(operation: str = "up", stack: str = "dev", **given: Any) -> OperationResult:
    """An engine result with the fields every result has; ``given`` replaces or adds any of them."""
    fields = {"operation": operation, "stack": stack, "outputs": {}, "changes": {"create": 1}, "version": 3,
              "duration_s": 1.25}
    return OperationResult(**{**fields, **given})


class FakeEngine:
    """Records the request, runs the inline program as an engine would, returns ``result`` or raises ``error``.

    :param during_run: called while the operation "runs" (e.g. the task being killed).
    """

    def __init__(self, result: OperationResult | None = None, *, error: Exception | None = None,
                 during_run: Any = None) -> None:
        self.result = result if result is not None else make_result()
        self.error = error
        self.during_run = during_run
        self.requests: list[Any] = []
        self.program_returned: Any = None
        self.stops = 0
        self.settings: dict[str, Any] = {}

    def run(self, request: Any) -> OperationResult:
        self.requests.append(request)
        self.program_returned = request.program()
        if self.during_run is not None:
            self.during_run()
        if self.error is not None:
            raise self.error
        return self.result

    def stop(self) -> str:
        self.stops += 1
        return "interrupted"

    @property
    def request(self) -> Any:
        (only,) = self.requests
        return only


class FakeEngineOperator(PulumiStackOperator):
    """The operator with its engine replaced (``fake_engine``, set per task)."""

    fake_engine: FakeEngine

    def _make_engine(self, **settings: Any) -> FakeEngine:
        self.fake_engine.settings = settings
        return self.fake_engine


def no_resources() -> dict[str, Any]:
    return {}


def make(engine: FakeEngine | None = None, **kwargs: Any) -> FakeEngineOperator:
    """A task outside any DAG (as ``execute`` sees it), with the fake engine."""
    arguments = {"task_id": "storage", "program": no_resources, "project": "infra", "stack": "dev", **kwargs}
    op = FakeEngineOperator(**arguments)
    op.fake_engine = engine if engine is not None else FakeEngine()
    return op


class FakeTI:
    """What the operator reads from ``context["ti"]`` and what it pushes."""

    dag_id, run_id, task_id, try_number, map_index = "d", "manual__1", "storage", 1, -1

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


class FakeOutletEvents(dict):
    """``context["outlet_events"]``: records the asset events the task adds."""

    class Accessor:
        def __init__(self) -> None:
            self.added: list[tuple[Any, Any]] = []

        def add(self, asset: Any, extra: Any = None) -> None:
            self.added.append((asset, extra))

    def __missing__(self, key: Any) -> Accessor:
        self[key] = value = self.Accessor()
        return value


def context(**params: Any) -> dict[str, Any]:
    return {"ti": FakeTI(), "params": params, "run_id": "manual__1", "outlet_events": FakeOutletEvents()}


def field_of(request: Any, name: str) -> Any:
    """A request field by name, on the request or on one of its dataclass fields (a grouped run context)."""
    if hasattr(request, name):
        return getattr(request, name)
    for part in dataclasses.fields(request):
        value = getattr(request, part.name)
        if dataclasses.is_dataclass(value) and hasattr(value, name):
            return getattr(value, name)
    raise AssertionError(f"the request has no field {name!r}: {request!r}")


@pytest.fixture(autouse=True)
def _worker(backend, tmp_path, monkeypatch):
    """A ``file://`` backend with a passphrase (``backend`` fixture) and a private worker folder."""
    monkeypatch.setenv("AIRFLOW__PULUMI__WORKER_DIR", str(tmp_path / "worker"))


@pytest.fixture
def masked(monkeypatch) -> list[str]:
    """What the operator registers with Airflow's secret masker."""
    seen: list[str] = []
    monkeypatch.setattr(operator_module, "_mask", seen.append)
    return seen


# -- execute: the request -----------------------------------------------------------------------------


def test_the_request_names_project_stack_config_operation_and_options(backend):
    envs = {"dev": Environment(stack="storage-dev", config={"app:tier": "small"}, secret_config={"db:pw": "s3cret"})}
    options = OperationOptions(lock_wait=600, kill_grace_period=30)

    def program(region: str, params):
        return {"region": region, "env": params["env"]}

    op = make(program=program, stack=None, environments=envs, op_kwargs={"region": "EU"}, options=options)
    op.execute(context(env="dev"))
    request = op.fake_engine.request
    assert (request.project, request.stack, request.operation) == ("infra", "storage-dev", "up")
    assert dict(request.config) == {"app:tier": "small"}
    assert dict(request.secret_config) == {"db:pw": "s3cret"}
    assert request.options == options
    # The program is bound to its arguments and the context keys it names.
    assert op.fake_engine.program_returned == {"region": "EU", "env": "dev"}
    assert "PULUMI_BACKEND_URL" in field_of(request, "env")
    assert backend.as_posix() in str(field_of(request, "env")["PULUMI_BACKEND_URL"])
    message = request.message
    for part in ("dag_id=d", "run_id=manual__1", "task_id=storage", "try=1", "environment=dev", "operation=up",
                 "identity=worker-default"):
        assert part in message


def test_the_engine_is_made_with_the_tasks_engine_choice():
    class Command:
        def run(self, *args: Any) -> None: ...

    command = Command()
    op = make(pulumi_command=command)
    op.execute(context())
    assert command in op.fake_engine.settings.values()
    assert op._engine is None  # dropped after the run


def test_refresh_before_up_setting_turns_on_refresh_for_up_only(monkeypatch):
    monkeypatch.setenv("AIRFLOW__PULUMI__REFRESH_BEFORE_UP", "True")
    up = make()
    up.execute(context())
    assert up.fake_engine.request.options.refresh
    assert not up.options.refresh  # the task's own options are left as they were
    preview = make(operation="preview", engine=FakeEngine(make_result("preview", version=None)))
    preview.execute(context())
    assert not preview.fake_engine.request.options.refresh


# -- execute: what it pushes and returns --------------------------------------------------------------


def test_up_returns_the_outputs_and_pushes_the_summary(masked):
    outputs = {"bucket": StackOutput("acme-raw"), "password": StackOutput("hunter2", secret=True)}
    op = make(engine=FakeEngine(make_result(outputs=outputs, changes={"create": 2, "same": 1})))
    ctx = context()
    returned = op.execute(ctx)
    assert returned["bucket"] == "acme-raw" and is_withheld_output(returned["password"])  # the secret is withheld
    assert returned["password"]["output"] == "password" and "hunter2" not in repr(returned)
    assert "hunter2" not in masked  # withheld, so never registered
    summary = ctx["ti"].pushed[SUMMARY_KEY]
    assert summary["operation"] == "up" and summary["project"] == "infra" and summary["stack"] == "dev"
    assert summary["environment"] == "dev" and summary["version"] == 3 and summary["attempts"] == 1
    assert summary["changes"] == {"create": 2, "same": 1} and summary["has_changes"] is True
    assert summary["message"].startswith("airflow: dag_id=d")
    assert "hunter2" not in repr(summary)
    # The asset event for the stack, with the output keys (never values).
    (accessor,) = ctx["outlet_events"].values()
    (asset, extra) = accessor.added[0]
    assert asset.uri == "pulumi://infra/dev" and "acme-raw" not in repr(extra)


def test_pushed_secret_outputs_and_secret_config_are_masked(masked):
    envs = {"dev": Environment(stack="dev", secret_config={"db:pw": "s3cret"})}
    outputs = {"password": StackOutput({"user": "app", "pw": "hunter2"}, secret=True)}
    with pytest.warns(FutureWarning, match="push_secret_outputs=True is deprecated"):
        op = make(engine=FakeEngine(make_result(outputs=outputs)), stack=None, environments=envs,
                  push_secret_outputs=True)
    assert op.execute(context()) == {"password": {"user": "app", "pw": "hunter2"}}
    assert {"s3cret", "hunter2", "app"} <= set(masked)


def test_other_operations_return_the_changes_and_take_their_options():
    steps = [{"op": "delete", "urn": "urn:pulumi:dev::infra::t::b", "type": "t", "name": "b"}]
    engine = FakeEngine(make_result("destroy", changes={"delete": 1}, steps=steps, stack_removed=True, version=None))
    op = make(engine=engine, operation="destroy", options=OperationOptions(remove_stack=True), emit_asset=True)
    ctx = context()
    assert op.execute(ctx) == {"changes": {"delete": 1}, "has_changes": True, "steps": steps, "stack": "dev",
                               "stack_removed": True}
    assert engine.request.operation == "destroy" and engine.request.options.remove_stack
    assert ctx["ti"].pushed[SUMMARY_KEY]["stack_removed"] is True
    assert not ctx["outlet_events"]  # asset events are for `up` only


# -- execute: kill and errors -------------------------------------------------------------------------


def test_on_kill_during_the_run_stops_the_engine():
    engine = FakeEngine()
    op = make(engine=engine)
    engine.during_run = op.on_kill
    op.execute(context())
    assert engine.stops == 1


def test_on_kill_before_the_engine_exists_stops_it_when_it_is_made():
    engine = FakeEngine()
    op = make(engine=engine)
    op.on_kill()
    assert engine.stops == 0
    op.execute(context())
    assert engine.stops == 1


def test_engine_errors_reach_the_task_unchanged(masked):
    error = ConcurrentUpdateError("stack 'dev' is locked by another update", stack="dev", operation="up")
    ctx = context()
    op = make(engine=FakeEngine(error=error))
    with pytest.raises(ConcurrentUpdateError) as caught:
        op.execute(ctx)
    assert caught.value is error
    assert SUMMARY_KEY not in ctx["ti"].pushed
    assert op._engine is None


def test_a_protected_environment_refuses_destroy_before_the_engine_is_made():
    from airflow_pulumi_decorators import ProtectedStackError

    envs = {"dev": Environment(stack="dev"), "prod": Environment(stack="prod", protected=True)}
    op = make(stack=None, environments=envs, environment="{{ params.env }}", operation="destroy")
    op.environment = "prod"  # as rendered
    with pytest.raises(ProtectedStackError):
        op.execute(context(env="prod"))
    assert not op.fake_engine.requests


# -- the operation options ------------------------------------------------------------------------------


def test_options_as_keywords_are_the_same_as_grouped():
    flat = make(operation="preview", refresh=True, expect_no_changes=True, lock_wait=datetime.timedelta(minutes=2))
    grouped = make(operation="preview", options=OperationOptions(refresh=True, expect_no_changes=True, lock_wait=120))
    assert flat.options == grouped.options == OperationOptions(refresh=True, expect_no_changes=True, lock_wait=120)
    assert make().options == OperationOptions()


def test_options_and_an_option_keyword_together_are_refused_naming_both():
    with pytest.raises(ConfigurationError, match=r"both 'options' and the option keywords 'refresh', 'lock_wait'"):
        make(options=OperationOptions(), lock_wait=5, refresh=True)


def test_options_of_the_wrong_kind_or_for_another_operation_are_refused():
    with pytest.raises(ConfigurationError, match=r"'options' must be an OperationOptions.*got dict"):
        make(options={"lock_wait": 5})
    with pytest.raises(ConfigurationError, match=r"'remove_stack' applies to operation='destroy', not 'up'"):
        make(options=OperationOptions(remove_stack=True))


def test_default_args_give_options_too():
    with DAG("defaults_flat", schedule=None, start_date=START, default_args={"lock_wait": 7, "retries": 0}):
        assert make(task_id="a").options.lock_wait == 7
        assert make(task_id="b", stack="b", lock_wait=3).options.lock_wait == 3  # the task's own wins
        # A task's options are the whole set: option keywords of default_args do not reach into them.
        assert make(task_id="c", stack="c", options=OperationOptions(refresh=True)).options.lock_wait == 0
    with DAG("defaults_grouped", schedule=None, start_date=START,
             default_args={"options": OperationOptions(lock_wait=11)}):
        # The task's option keywords refine options from default_args.
        assert make(task_id="a", refresh=True).options == OperationOptions(lock_wait=11, refresh=True)


def test_the_decorator_keywords_refine_its_options():
    with DAG("decorated", schedule=None, start_date=START) as dag:
        @pulumi_stack(project="infra", stack="dev", options=OperationOptions(lock_wait=600))
        def storage():
            return {}

        storage()
        storage.drift_check()
        storage.override(remove_stack=True).destroy()
        storage.override(kill_grace_period=9).preview()
    assert dag.get_task("storage").options == OperationOptions(lock_wait=600)
    assert dag.get_task("storage_drift_check").options == OperationOptions(lock_wait=600, refresh=True,
                                                                           expect_no_changes=True)
    assert dag.get_task("storage_destroy").options == OperationOptions(lock_wait=600, remove_stack=True)
    assert dag.get_task("storage_preview").options == OperationOptions(lock_wait=600, kill_grace_period=9)


def test_mapped_tasks_take_options_in_partial_and_expand():
    with DAG("mapped", schedule=None, start_date=START):
        flat = PulumiStackOperator.partial(task_id="flat", program=dict, project="infra", lock_wait=5).expand(
            stack=["a", "b"]
        )
        grouped = PulumiStackOperator.partial(
            task_id="grouped", program=dict, project="infra", options=OperationOptions(lock_wait=5)
        ).expand(stack=["c", "d"])
        mapped = PulumiStackOperator.partial(task_id="mapped", program=dict, project="infra").expand(
            stack=["e", "f"], options=[OperationOptions(lock_wait=1), OperationOptions(lock_wait=2)]
        )
        with pytest.raises(ConfigurationError, match=r"both 'options' and the option keyword 'lock_wait'"):
            PulumiStackOperator.partial(task_id="both", program=dict, project="infra",
                                        options=OperationOptions(), lock_wait=5)
    assert flat.partial_kwargs["options"] == grouped.partial_kwargs["options"] == OperationOptions(lock_wait=5)
    assert "options" in mapped.expand_input.value


def test_options_survive_a_deep_copy():
    op = make(options=OperationOptions(policy_packs=["policies/gcp"], lock_wait=60))
    copied = copy.deepcopy(op)
    assert copied.options == op.options and copied.options.policy_packs == ("policies/gcp",)


# -- secret outputs downstream -------------------------------------------------------------------------------


def test_secret_outputs_must_be_withhold_or_reference_when_the_dag_is_parsed():
    with pytest.raises(ConfigurationError, match=r"'secret_outputs'='push' is not one of 'withhold', 'reference'"):
        make(secret_outputs="push")
    assert make(secret_outputs="reference").secret_outputs == "reference"


def test_push_secret_outputs_is_deprecated_naming_the_new_option_and_refused_next_to_it():
    with pytest.warns(FutureWarning, match=r"plain text in Airflow's metadata database.*secret_outputs='reference'"):
        make(push_secret_outputs=True)
    with pytest.raises(ConfigurationError, match="drop push_secret_outputs"):
        make(push_secret_outputs=True, secret_outputs="reference")


def test_a_reference_task_pushes_references_with_its_environment_and_connection(masked):
    envs = {"dev": Environment(stack="dev", pulumi_conn_id="pulumi_refs")}
    outputs = {"token": StackOutput("tok-op-77", secret=True), "url": StackOutput("u")}
    op = make(engine=FakeEngine(make_result(outputs=outputs)), stack=None, environments=envs,
              secret_outputs="reference")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("airflow_pulumi_decorators.prepare.backend.get_pulumi_connection", lambda *a, **k: None)
        value = op.execute(context())
    assert value["url"] == "u" and "tok-op-77" not in repr(value) and "tok-op-77" not in masked
    assert {k: value["token"][k] for k in ("key", "stack", "environment", "pulumi_conn_id", "task_id")} == {
        "key": "token", "stack": "dev", "environment": "dev", "pulumi_conn_id": "pulumi_refs", "task_id": "storage"}
