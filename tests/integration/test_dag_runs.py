"""End to end on real Airflow 3 (``dag.test()``) with the in-process stand-in engine: what is specific to
it or to the task itself. The scenarios every engine must pass are in ``test_scenarios.py``.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

HEADER = """
import pendulum
import pulumi
from airflow.sdk import dag, task
from airflow_pulumi_decorators import Environment, pulumi_stack
from airflow_pulumi_decorators.testing import StandinCommand

ENGINE = StandinCommand()
"""


@pytest.fixture
def header() -> str:
    """The DAG files' preamble; it defines ``ENGINE``, the ``pulumi_command`` each task uses."""
    return HEADER


def test_single_task_returns_stack_outputs_as_xcom(run_dag, header):
    """The README's example (a GCS bucket): stand-in only, since a real CLI would need GCP credentials."""
    result = run_dag(header + """
@dag(dag_id="{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="storage", stack="dev", pulumi_command=ENGINE)
    def storage(region: str):
        import pulumi_gcp as gcp
        # The stand-in returns inputs as outputs, so the name is given (a real provider would auto-name it).
        bucket = gcp.storage.Bucket("raw", name=f"acme-raw-{region.lower()}", location=region)
        return {"bucket": bucket.name, "location": bucket.location, "region": region}
    storage(region="EU")
the_dag = d()
""")
    assert result.state == "success", result.output[-3000:]
    out = result.xcom("storage")
    assert out["location"] == "EU" and out["region"] == "EU"
    assert out["bucket"] == "acme-raw-eu"
    # multiple_outputs: each key is also its own XCom
    assert result.xcom("storage", "location") == "EU"
    assert "changes: create=2" in result.output  # the bucket and the stack resource, as Pulumi counts
    assert "creates no cloud resources" in result.output


ENV_DAG = """
ENVS = {
    "dev": Environment(stack="dev", config={"gcp:project": "acme-dev", "app:tier": "small"}),
    "prod": Environment(stack="prod", config={"gcp:project": "acme-prod", "app:tier": "large"}),
}

@dag(dag_id="{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1), params={"env": "dev"})
def d():
    @pulumi_stack(project="envs", environments=ENVS, environment="{{ params.env }}", pulumi_command=ENGINE)
    def infra():
        cfg = pulumi.Config("app")
        gcp_cfg = pulumi.Config("gcp")
        return {"tier": cfg.require("tier"), "project": gcp_cfg.require("project"),
                "stack": pulumi.get_stack()}
    infra()
the_dag = d()
"""


def test_unknown_environment_at_run_time_lists_known_ones(run_dag, header):
    result = run_dag(header + ENV_DAG, run_conf={"env": "qa"})
    assert result.task_states["infra"] == "failed"
    assert "environment 'qa' is not defined" in result.output and "dev, prod" in result.output


def test_secret_output_opt_in_pushes_it(run_dag, header):
    result = run_dag(header + """
@dag(dag_id="{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="secrets", stack="dev", pulumi_command=ENGINE, push_secret_outputs=True)
    def infra():
        return {"token": pulumi.Output.secret("pushed-secret-77aa")}
    infra()
the_dag = d()
""")
    assert result.state == "success", result.output[-3000:]
    assert result.xcom("infra", "token") == "pushed-secret-77aa"


def test_explicit_pulumi_export_works_without_a_return_value(run_dag, header):
    result = run_dag(header + """
@dag(dag_id="{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="exports", stack="dev", pulumi_command=ENGINE)
    def infra():
        import pulumi_random as random
        pet = random.RandomPet("pet", length=3)
        pulumi.export("length", pet.length)
        pulumi.export("name", "fixed")
    infra()
the_dag = d()
""")
    assert result.state == "success", result.output[-3000:]
    assert result.xcom("infra") == {"length": 3, "name": "fixed"}


def test_returning_something_other_than_a_dict_is_a_clear_program_error(run_dag, header):
    result = run_dag(header + """
@dag(dag_id="{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="badreturn", stack="dev", pulumi_command=ENGINE)
    def infra():
        return ["not", "a", "dict"]
    infra()
the_dag = d()
""")
    assert result.task_states["infra"] == "failed"
    assert "must return a dict of stack outputs or None, got list" in result.output


def test_mapped_operator_tasks_take_their_options_from_partial_and_expand(run_dag, header):
    """``partial(refresh=True)`` (an option keyword) and ``options`` per mapped task reach each task's run."""
    result = run_dag(header + """
from airflow_pulumi_decorators import OperationOptions, PulumiStackOperator

def program():
    return {"stack": pulumi.get_stack()}

@dag(dag_id="{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    PulumiStackOperator.partial(
        task_id="refreshed", program=program, project="mapped", pulumi_command=ENGINE, refresh=True,
    ).expand(stack=["r0", "r1"])
    PulumiStackOperator.partial(
        task_id="grouped", program=program, project="mapped", pulumi_command=ENGINE,
    ).expand_kwargs([
        {"stack": "g0", "options": OperationOptions(refresh=True)},
        {"stack": "g1", "options": OperationOptions(lock_wait=5)},
    ])
the_dag = d()
""")
    assert result.state == "success", result.output[-3000:]
    ups = [call.argv for call in result.calls if call.command == "up"]
    assert len(ups) == 4, ups
    refreshed = sorted(argv[argv.index("--stack") + 1] for argv in ups if "--refresh" in argv)
    assert refreshed == ["g0", "r0", "r1"], ups
