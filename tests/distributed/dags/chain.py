"""Outputs chained across workers: ``produce`` runs on worker A (queue ``worker_a``), ``consume`` -- a program
that takes the produced output as an input -- on worker B, and ``report`` back on A. On the real CLI both
stacks live in the ``gs://`` backend (the ``pulumi_gcs`` connection); the stand-in has ``file://`` only."""

from airflow.sdk import dag, task
from dist_common import START, engines

from airflow_pulumi_decorators import pulumi_stack


def build(engine: str, cli: str):
    conn = "pulumi_gcs" if engine == "real" else "pulumi_shared"

    @dag(dag_id=f"chain__{engine}", schedule=None, start_date=START)
    def chain():
        @pulumi_stack(project=f"chain_{engine}", stack="producer", cli_path=cli, pulumi_conn_id=conn,
                      queue="worker_a")
        def produce():
            from airflow_pulumi_decorators.testing.resources import FakeName

            return {"dataset": FakeName("dataset", prefix="raw", length=2, separator="_").name}

        @pulumi_stack(project=f"chain_{engine}", stack="consumer", cli_path=cli, pulumi_conn_id=conn,
                      queue="worker_b")
        def consume(dataset: str):
            from airflow_pulumi_decorators.testing.resources import FakeName

            table = FakeName("table", prefix=dataset, length=1, separator=".")
            return {"dataset": dataset, "table": table.name}

        @task(queue="worker_a")
        def report(table: str) -> str:
            return f"loaded {table}"

        report(consume(produce()["dataset"])["table"])

    return chain()


for _engine, _cli in engines().items():
    build(_engine, _cli)
