"""Two stacks chained through XCom; the second writes ``<folder>/cluster.conf`` (``test_scenarios.py``)."""

import pendulum
from airflow.sdk import dag, task

from airflow_pulumi_decorators import pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)
FOLDER = PARAMS.get("folder", "/tmp/apd-two-stacks")


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="network", stack="dev", pulumi_command=ENGINE)
    def network():
        from airflow_pulumi_decorators.testing.resources import FakeName

        return {"network": FakeName("vpc", prefix="net").name, "cidr": "10.0.0.0/16"}

    @pulumi_stack(project="cluster", stack="dev", pulumi_command=ENGINE)
    def cluster(network: str, cidr: str):
        from airflow_pulumi_decorators.testing.resources import LocalFile

        conf = LocalFile("conf", path=f"{FOLDER}/cluster.conf", content=f"{network} {cidr}")
        return {"conf": conf.path, "sha256": conf.sha256}

    @task
    def use(conf: str, network: str):
        return open(conf).read() + "|" + network

    net = network()
    cl = cluster(net["network"], net["cidr"])
    use(cl["conf"], net["network"])


the_dag = d()
