"""The argument checks on their own (:mod:`airflow_pulumi_decorators.checks`); how a DAG author meets them
through ``@pulumi_stack`` is in ``tests/test_decorators.py``."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pendulum
import pytest
from airflow.sdk import DAG, task

from airflow_pulumi_decorators import Environment
from airflow_pulumi_decorators.checks import check_names, check_pulumi_command, upstream_arguments
from airflow_pulumi_decorators.errors import ConfigurationError


class ReadyCommand:
    def run(self, *args):
        return None


def test_pulumi_command_must_be_a_ready_command_object():
    check_pulumi_command(None)
    check_pulumi_command(ReadyCommand())
    with pytest.raises(ConfigurationError, match=r"'/opt/pulumi/bin' is a path; .*use cli_path=\.\.\."):
        check_pulumi_command("/opt/pulumi/bin")
    with pytest.raises(ConfigurationError, match="is a path"):
        check_pulumi_command(Path("/opt/pulumi/bin"))
    with pytest.raises(ConfigurationError,
                       match=r"ReadyCommand is a class; pass an instance, e\.g\. pulumi_command=ReadyCommand\(\)"):
        check_pulumi_command(ReadyCommand)
    with pytest.raises(ConfigurationError, match="must be a pulumi.automation.PulumiCommand .* got dict"):
        check_pulumi_command({"run": "not callable"})


def test_upstream_arguments_name_the_task_and_key_and_skip_parameters_that_take_none():
    def program(network, cidr, extra=None, *, region="EU", labels=None):
        return {}

    with DAG("checks_upstream", schedule=None, start_date=pendulum.datetime(2026, 1, 1)):
        @task
        def net():
            return {}

        out = net()
        found = upstream_arguments(program, [out, out["cidr"], out], {"region": out, "labels": out})
    assert found == {
        ("arg", 0): "upstream task 'net'",
        ("arg", 1): "upstream task 'net' (XCom key 'cidr')",
        ("kwarg", "region"): "upstream task 'net'",
    }  # extra=None and labels=None say the program handles None
    assert upstream_arguments(program, ["10.0.0.0/16"], {"region": "EU"}) == {}


def test_stack_names_must_belong_to_the_tasks_project():
    def stack_task(stack=None, environments=None):
        return SimpleNamespace(project="network", stack=stack, environments=environments)

    check_names(stack_task("dev"))
    check_names(stack_task("acme/network/dev"))
    check_names(stack_task(environments={"prod": Environment(stack="acme/network/prod")}))
    with pytest.raises(ConfigurationError, match="network"):
        check_names(stack_task("acme/cluster/dev"))
    with pytest.raises(ConfigurationError, match=r"environments\['prod'\]\.stack"):
        check_names(stack_task(environments={"prod": Environment(stack="acme/cluster/prod")}))


def test_a_mapped_up_on_one_fixed_stack_is_refused_naming_the_task_and_a_fix():
    from airflow_pulumi_decorators.checks import check_mapped_up

    with pytest.raises(ConfigurationError, match=r"task 'regional' is mapped .* on stack 'dev' for every map index"):
        check_mapped_up("regional", {"stack": "dev"}, ())
    envs = {"dev": Environment(stack="d"), "prod": Environment(stack="p")}
    with pytest.raises(ConfigurationError, match="regional-\\{\\{ ti.map_index \\}\\}"):
        check_mapped_up("regional", {"environments": envs, "environment": "dev"}, ())
    # a stack per map index: templated, or mapped over on the operator
    check_mapped_up("regional", {"stack": "r{{ ti.map_index }}"}, ())
    check_mapped_up("regional", {"environments": envs}, ("environment",))
    check_mapped_up("regional", {}, ("stack",))
    # other operations only read the stack; partial before expand: only a literal stack is known to be shared
    check_mapped_up("regional", {"stack": "dev", "operation": "preview"}, ())
    check_mapped_up("regional", {"environments": envs, "environment": "dev"}, None)
    with pytest.raises(ConfigurationError):
        check_mapped_up("regional", {"stack": "dev"}, None)
