"""A long ``up`` on worker A (queue ``doomed``, which only A consumes), killed with the whole worker; its
retry runs elsewhere and recovers the dead try's lock unaided (``cancel_stale_lock=True``). The first try's
update takes ~30 s; the retry's a second."""

import datetime

from airflow.sdk import dag
from dist_common import START, engines

from airflow_pulumi_decorators import pulumi_stack


def build(engine: str, cli: str):

    @dag(dag_id=f"kill__{engine}", schedule=None, start_date=START)
    def kill():
        @pulumi_stack(project=f"kill_{engine}", stack="dev", cli_path=cli, queue="doomed", retries=1,
                      retry_delay=datetime.timedelta(seconds=1), cancel_stale_lock=True)
        def slow(attempt: str):
            import pulumi

            from airflow_pulumi_decorators.testing.resources import Sleep

            seconds = 2.5 if attempt == "1" else 0.05
            made = []
            for i in range(12):  # one after the other, so the kill lands in the middle
                made.append(Sleep(f"s{i}", seconds=seconds, opts=pulumi.ResourceOptions(depends_on=made[-1:])))
            return {"count": len(made)}

        slow(attempt="{{ ti.try_number }}")

    return kill()


for _engine, _cli in engines().items():
    build(_engine, _cli)
