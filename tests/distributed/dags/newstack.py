"""Overlapping runs of one DAG on a stack that does not exist yet: each waits for the stack's lock
(``lock_wait``), the first creates the stack, every run updates it (its own run id as an input)."""

import zlib

from airflow.sdk import dag
from dist_common import START, engines

from airflow_pulumi_decorators import pulumi_stack


def build(engine: str, cli: str):

    @dag(dag_id=f"newstack__{engine}", schedule=None, start_date=START, max_active_runs=8)
    def newstack():
        @pulumi_stack(project=f"newstack_{engine}", stack="shared", cli_path=cli, lock_wait=240)
        def shared(run: str):
            from airflow_pulumi_decorators.testing.resources import Sleep

            # Each run changes the input, so each update holds the lock for three seconds: the runs overlap.
            Sleep("pause", seconds=3.0 + zlib.crc32(run.encode()) % 100 / 1000)
            return {"run": run}

        shared(run="{{ run_id }}")

    return newstack()


for _engine, _cli in engines().items():
    build(_engine, _cli)
