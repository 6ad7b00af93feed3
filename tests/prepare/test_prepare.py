"""One task's engine run prepared (:func:`airflow_pulumi_decorators.prepare.prepare_run`): the request it yields,
the order of its steps, and that nothing it made outlives the run."""

from __future__ import annotations

import logging
import os
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_pulumi_decorators import ConfigurationError, Environment, OperationOptions
from airflow_pulumi_decorators.locks import TaskRef
from airflow_pulumi_decorators.prepare import prepare_run, run_options
from airflow_pulumi_decorators.prepare.program import bind_program, task_ref, task_states, update_message


class TI:
    dag_id, run_id, task_id, try_number, map_index = "d", "manual__1", "storage", 2, -1


def task(**given: Any) -> SimpleNamespace:
    """A stack task as prepare reads it (:class:`~airflow_pulumi_decorators.stack_task.StackTask`)."""
    fields: dict[str, Any] = {
        "task_id": "storage", "program": lambda region: {"region": region}, "project": "infra",
        "op_args": [], "op_kwargs": {"region": "EU"}, "stack": None, "environments": None, "environment": None,
        "pulumi_conn_id": None, "operation": "up", "options": OperationOptions(), "allow_destroy_protected": False,
        "multiple_outputs": True, "execution_timeout": None, "log": logging.getLogger("test-prepare"),
    }
    return SimpleNamespace(**{**fields, **given})


@pytest.fixture(autouse=True)
def _worker(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__PULUMI__WORKER_DIR", str(tmp_path / "worker"))
    monkeypatch.delenv("AIRFLOW__PULUMI__REFRESH_BEFORE_UP", raising=False)
    monkeypatch.delenv("AIRFLOW__PULUMI__PULUMI_HOME", raising=False)


def test_the_prepared_request_carries_everything_the_engine_needs(backend):
    env = Environment(stack="storage-dev", config={"app:tier": "small"}, secret_config={"db:pw": "s3cret-pw"})
    masked: list[str] = []
    with prepare_run(task(), {"ti": TI()}, ("dev", env), mask=masked.append) as run:
        request = run.request
        home = request.context.pulumi_home
        assert home and os.path.isdir(home)
        assert (run.environment, run.conn_id, run.credential) == ("dev", None, None)
        assert (request.project, request.stack, request.operation) == ("infra", "storage-dev", "up")
        assert dict(request.config) == {"app:tier": "small"} and dict(request.secret_config) == {"db:pw": "s3cret-pw"}
        assert request.context.backend is not None and request.context.backend.url == f"file://{backend}"
        assert request.context.env["PULUMI_HOME"] == home
        assert request.multiple_outputs is True
        assert request.program() == {"region": "EU"}
        assert request.message == (
            "airflow: dag_id=d run_id=manual__1 task_id=storage try=2 environment=dev operation=up "
            "identity=worker-default"
        )
    assert "s3cret-pw" in masked  # before anything could print it
    assert not os.path.exists(home)  # the per-task PULUMI_HOME is gone with the run


def test_nothing_is_left_when_preparing_fails_halfway(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__PULUMI__CREDENTIAL_BUDGET", "soon")
    identity_env = Environment(stack="dev", backend_url=f"file://{tmp_path}/state",
                               identity=_impersonation())
    with pytest.raises(ConfigurationError, match=r"\[pulumi\] credential_budget='soon'"):
        with prepare_run(task(), {"ti": TI()}, ("dev", identity_env), mask=lambda _: None):
            pass
    homes = tmp_path / "worker" / "homes"
    assert not homes.exists() or os.listdir(homes) == []  # the home made before the credential step is removed


def _impersonation() -> Any:
    from airflow_pulumi_decorators.identity import GkeMetadataServer, ServiceAccountImpersonation

    return ServiceAccountImpersonation(
        target_principal="deployer@acme-dev.iam.gserviceaccount.com", source=GkeMetadataServer()
    )


def test_refresh_before_up_from_config_applies_to_up_only(monkeypatch):
    assert run_options("up", OperationOptions()).refresh is False
    monkeypatch.setenv("AIRFLOW__PULUMI__REFRESH_BEFORE_UP", "True")
    assert run_options("up", OperationOptions()).refresh is True
    assert run_options("preview", OperationOptions()).refresh is False
    unchanged = OperationOptions(refresh=True, lock_wait=3)
    assert run_options("up", unchanged) is unchanged


def test_the_program_is_bound_to_its_arguments_and_the_context_keys_it_names():
    def program(cidr: str, region: str, params: dict[str, str]) -> dict[str, str]:
        return {"cidr": cidr, "region": region, "env": params["env"]}

    bound = bind_program(program, ["10.0.0.0/16"], {"region": "EU"}, {"params": {"env": "dev"}, "run_id": "r"})
    assert bound() == {"cidr": "10.0.0.0/16", "region": "EU", "env": "dev"}
    assert bound.__name__ == "program"  # named as the user's function in errors


def test_the_update_message_names_the_map_index_of_a_mapped_task_and_the_principal():
    ti = SimpleNamespace(dag_id="d", run_id="r", task_id="t", try_number=1, map_index=4)
    assert update_message(ti, environment="prod", operation="destroy", principal="sa@p.iam.gserviceaccount.com") == (
        "airflow: dag_id=d run_id=r task_id=t map_index=4 try=1 environment=prod operation=destroy "
        "identity=sa@p.iam.gserviceaccount.com"
    )


def test_the_run_is_recorded_as_its_task_instance_and_try():
    ti = SimpleNamespace(dag_id="d", run_id="r", task_id="t", try_number=3, map_index=4)
    assert task_ref(ti) == TaskRef("d", "r", "t", map_index=4, try_number=3)
    assert task_ref(SimpleNamespace(dag_id="d", run_id="r", task_id="t", try_number=1, map_index=None)).map_index == -1
    assert task_ref(object()) is None


@pytest.mark.parametrize(
    ("ref", "answer", "state"),
    [
        (TaskRef("d", "r", "t"), {"r": {"t": "up_for_retry", "other": "running"}}, "up_for_retry"),
        (TaskRef("d", "r", "t", map_index=2), {"r": {"t_1": "running", "t_2": "failed"}}, "failed"),
        (TaskRef("d", "r", "t"), {}, None),  # Airflow has no such task instance
    ],
)
def test_airflow_is_asked_for_the_state_of_the_holders_task_instance(ref, answer, state):
    asked = []

    def get_task_states(**query):
        asked.append(query)
        return answer

    states = task_states(SimpleNamespace(get_task_states=get_task_states))
    assert states is not None and states(ref) == state
    assert asked == [{"dag_id": "d", "run_ids": ["r"], "task_ids": ["t"],
                      "map_index": ref.map_index if ref.map_index >= 0 else None}]
    assert task_states(object()) is None  # not a task instance: Airflow is not asked
