"""End to end on real Airflow 3 (``dag.test()``), the real Pulumi SDK and Automation API, and the
in-process stand-in engine.

The programs use ``pulumi_random`` (no cloud credentials needed), so ``tests/real_cli`` reruns these very
scenarios against a real ``pulumi`` CLI by overriding the ``header`` fixture.
"""

from __future__ import annotations

import json

import pytest

from tests.dagrun import all_text_under

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


def test_random_resource_outputs_flow_to_a_downstream_task(run_dag, header):
    result = run_dag(header + """
@dag(dag_id="{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="names", stack="dev", pulumi_command=ENGINE)
    def names(prefix: str):
        import pulumi_random as random
        pet = random.RandomPet("dataset", prefix=prefix, length=2, separator="_")
        return {"dataset": pet.id, "prefix": pet.prefix}

    @task
    def load(dataset: str, prefix: str):
        return {"dataset": dataset, "prefix": prefix}

    out = names(prefix="raw")
    load(out["dataset"], out["prefix"])
the_dag = d()
""")
    assert result.state == "success", result.output[-3000:]
    loaded = result.xcom("load")
    assert loaded["prefix"] == "raw" and loaded["dataset"] == result.xcom("names", "dataset")
    assert isinstance(loaded["dataset"], str) and loaded["dataset"]


def test_update_message_records_dag_run_task_and_try(run_dag, header):
    result = run_dag(header + """
@dag(dag_id="{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="audit", stack="dev", pulumi_command=ENGINE)
    def infra():
        return {"n": 1}
    infra()
the_dag = d()
""")
    assert result.state == "success", result.output[-3000:]
    history = all_text_under(result.backend / ".pulumi" / "history")
    assert "airflow: dag_id=" in history
    assert "task_id=infra" in history and "try=1" in history and "run_id=manual__" in history


def test_two_stacks_and_a_consumer_chain_through_xcom(run_dag, header):
    result = run_dag(header + """
@dag(dag_id="{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="network", stack="dev", pulumi_command=ENGINE)
    def network():
        import pulumi_random as random
        net = random.RandomPet("vpc", prefix="net", length=2)
        return {"network": net.id, "cidr": "10.0.0.0/16"}

    @pulumi_stack(project="cluster", stack="dev", pulumi_command=ENGINE)
    def cluster(network: str, cidr: str):
        import pulumi_random as random
        nodes = random.RandomString("nodes", length=8, special=False, keepers={"network": network, "cidr": cidr})
        return {"subnet_network": nodes.keepers["network"], "subnet_cidr": nodes.keepers["cidr"]}

    @task
    def use(subnet_network: str, subnet_cidr: str, network: str):
        assert subnet_network == network
        return f"{subnet_network}|{subnet_cidr}"

    net = network()
    cl = cluster(net["network"], net["cidr"])
    use(cl["subnet_network"], cl["subnet_cidr"], net["network"])
the_dag = d()
""")
    assert result.state == "success", result.output[-3000:]
    network_name = result.xcom("network", "network")
    assert result.xcom("use") == f"{network_name}|10.0.0.0/16"
    assert (result.backend / ".pulumi" / "stacks" / "network" / "dev.json").exists()
    assert (result.backend / ".pulumi" / "stacks" / "cluster" / "dev.json").exists()


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


def test_environment_is_chosen_by_dag_param(run_dag, header):
    result = run_dag(header + ENV_DAG, run_conf={"env": "prod"})
    assert result.state == "success", result.output[-3000:]
    assert result.xcom("infra") == {"tier": "large", "project": "acme-prod", "stack": "prod"}
    stacks = result.backend / ".pulumi" / "stacks" / "envs"
    assert (stacks / "prod.json").exists() and not (stacks / "dev.json").exists()
    assert result.rendered["infra"]["environment"] == "prod"


def test_unknown_environment_at_run_time_lists_known_ones(run_dag, header):
    result = run_dag(header + ENV_DAG, run_conf={"env": "qa"})
    assert result.task_states["infra"] == "failed"
    assert "environment 'qa' is not defined" in result.output and "dev, prod" in result.output


def test_secret_output_is_withheld_and_absent_from_log_and_state(run_dag, header):
    secret = "s3cr3t-output-9d2e71"
    secret_cfg = "s3cr3t-config-4b1a55"
    result = run_dag(header + f"""
ENVS = {{"dev": Environment(stack="dev", secret_config={{"db:password": "{secret_cfg}"}})}}

@dag(dag_id="{{dag_id}}", schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="secrets", environments=ENVS, pulumi_command=ENGINE)
    def infra():
        pw = pulumi.Config("db").require_secret("password")
        return {{"token": pulumi.Output.secret("{secret}"), "password": pw, "plain": "visible"}}

    @task
    def consume(token, plain):
        return [token, plain]

    out = infra()
    consume(out["token"], out["plain"])
the_dag = d()
""")
    assert result.state == "success", result.output[-3000:]
    assert result.xcom("infra") == {"token": None, "password": None, "plain": "visible"}
    assert result.xcom("consume") == [None, "visible"]
    assert "secret outputs withheld from XCom: password, token" in result.output
    everything = result.output + json.dumps(result.xcoms) + json.dumps(result.rendered, default=str)
    everything += all_text_under(result.backend)
    for value in (secret, secret_cfg):
        assert value not in everything


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


def test_program_that_raises_fails_with_clear_error_and_traceback(run_dag, header):
    result = run_dag(header + """
@dag(dag_id="{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="broken", stack="dev", pulumi_command=ENGINE)
    def infra():
        def compute_cidr():
            raise ValueError("cidr overlaps 10.1.0.0/16")
        return {"cidr": compute_cidr()}
    infra()
the_dag = d()
""")
    assert result.task_states["infra"] == "failed"
    assert "ProgramError" in result.output
    assert "cidr overlaps 10.1.0.0/16" in result.output
    assert "in compute_cidr" in result.output  # the user's traceback
    assert not list((result.backend / ".pulumi").rglob("locks/**/*.json")), "stack left locked"


CHANGE_DAG = """
@dag(dag_id="{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1),
     params={"count": 2})
def d():
    @pulumi_stack(project="changes", stack="dev", pulumi_command=ENGINE)
    def infra(params=None):
        import pulumi_random as random
        ids = [random.RandomId(f"b{i}", byte_length=4) for i in range(params["count"])]
        return {"count": len(ids)}
    infra()
the_dag = d()
"""


def test_second_up_is_a_no_op_and_removing_a_resource_deletes_it(run_dag, header):
    first = run_dag(header + CHANGE_DAG, dag_id="t_changes")
    assert first.state == "success", first.output[-3000:]
    assert "changes: create=3" in first.output  # two ids and the stack resource
    second = run_dag(header + CHANGE_DAG, dag_id="t_changes")
    assert second.state == "success", second.output[-3000:]
    assert "changes: same=3" in second.output
    third = run_dag(header + CHANGE_DAG, run_conf={"count": 1}, dag_id="t_changes")
    assert third.state == "success", third.output[-3000:]
    assert "changes: delete=1, same=2" in third.output
    state = json.loads((third.backend / ".pulumi" / "stacks" / "changes" / "dev.json").read_text())
    urns = [r["urn"] for r in state["checkpoint"]["latest"]["resources"]]
    assert any(u.endswith("::b0") for u in urns) and not any(u.endswith("::b1") for u in urns)


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
