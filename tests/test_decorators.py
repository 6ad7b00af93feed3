"""Parse-time behaviour of @pulumi_stack: validation, signature checks, task.pulumi_stack registration."""

import pendulum
import pytest
from airflow.sdk import dag, task

from airflow_pulumi_decorators import ConfigurationError, Environment, UnknownEnvironmentError, pulumi_stack
from airflow_pulumi_decorators.decorators import _PulumiStackDecoratedOperator

ENVS = {"dev": Environment(stack="dev"), "prod": Environment(stack="prod")}


def _build(**decorator_kwargs):
    """Build a one-task DAG and return the operator."""

    @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))
    def d():
        @pulumi_stack(project="infra", **decorator_kwargs)
        def storage(region: str):
            return {"region": region}

        storage(region="EU")

    return d().get_task("storage")


def test_decorator_builds_our_operator_with_multiple_outputs_on():
    op = _build(stack="dev")
    assert isinstance(op, _PulumiStackDecoratedOperator)
    assert op.multiple_outputs is True
    assert op.op_kwargs == {"region": "EU"}
    assert set(op.template_fields) >= {"op_args", "op_kwargs", "environment", "stack"}


def test_multiple_outputs_can_be_turned_off():
    assert _build(stack="dev", multiple_outputs=False).multiple_outputs is False


def test_task_namespace_exposes_pulumi_stack_through_the_provider_entry_point():
    op = None

    @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))
    def d():
        @task.pulumi_stack(project="infra", stack="dev")
        def storage():
            return {}

        storage()

    op = d().get_task("storage")
    assert isinstance(op, _PulumiStackDecoratedOperator)


def test_neither_stack_nor_environments_is_refused_at_parse_time():
    with pytest.raises(ConfigurationError, match="give 'stack'"):
        _build()


def test_unknown_literal_environment_is_refused_at_parse_time():
    with pytest.raises(UnknownEnvironmentError, match="known environments: dev, prod"):
        _build(environments=ENVS, environment="qa")


def test_templated_environment_is_accepted_at_parse_time():
    assert _build(environments=ENVS, environment="{{ params.env }}").environment == "{{ params.env }}"


def test_several_environments_need_an_environment_argument():
    with pytest.raises(ConfigurationError, match="'environment' is required"):
        _build(environments=ENVS)


def test_environment_without_environments_is_refused():
    with pytest.raises(ConfigurationError, match="needs 'environments'"):
        _build(stack="dev", environment="dev")


def test_bad_project_name_is_refused():
    with pytest.raises(ConfigurationError, match="'project'"):

        @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))
        def d():
            @pulumi_stack(project="bad project", stack="dev")
            def storage():
                return {}

            storage()

        d()


def test_wrong_function_arguments_fail_at_parse_time():
    with pytest.raises(TypeError):

        @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))
        def d():
            @pulumi_stack(project="infra", stack="dev")
            def storage(region: str):
                return {}

            storage(zone="x")

        d()
