"""Runs on a stack that exists: ``existing_hold`` holds its lock for a while; ``existing_wait`` waits for it
(``lock_wait``), ``existing_nowait`` does not (``lock_wait=0``) and must fail naming the holder's run."""

from airflow.sdk import dag
from dist_common import START, engines

from airflow_pulumi_decorators import pulumi_stack

#: (lock_wait, seconds per resource): the holder's update takes ~18 s.
MODES = {"hold": (0, 3.0), "wait": (240, 0.1), "nowait": (0, 0.1)}


def build(engine: str, cli: str, mode: str):
    lock_wait, seconds = MODES[mode]

    @dag(dag_id=f"existing_{mode}__{engine}", schedule=None, start_date=START, max_active_runs=4)
    def existing():
        @pulumi_stack(project=f"existing_{engine}", stack="dev", cli_path=cli, lock_wait=lock_wait)
        def app(seconds: float):
            import pulumi

            from airflow_pulumi_decorators.testing.resources import Sleep

            made = []
            for i in range(6):  # one after the other: an update of six steps
                made.append(Sleep(f"s{i}", seconds=seconds, opts=pulumi.ResourceOptions(depends_on=made[-1:])))
            return {"seconds": seconds}

        app(seconds)

    return existing()


for _engine, _cli in engines().items():
    for _mode in MODES:
        build(_engine, _cli, _mode)
