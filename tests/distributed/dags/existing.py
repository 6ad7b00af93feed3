"""Runs on a stack that exists: ``existing_hold`` holds its lock until the test lets it go (it creates the
file ``$APD_DIST_SIGNALS/existing_<engine>.release``, once every contender has met the lock);
``existing_wait`` waits for the lock (``lock_wait``), ``existing_nowait`` does not (``lock_wait=0``) and
must fail naming the holder's run."""

import os
import time

from airflow.sdk import dag
from dist_common import START, engines

from airflow_pulumi_decorators import pulumi_stack

#: (lock_wait, whether the run holds the lock until released).
MODES = {"hold": (0, True), "wait": (240, False), "nowait": (0, False)}
#: The longest a holder waits for its release (the test releases it within a minute or two).
HOLD_AT_MOST = 300


def build(engine: str, cli: str, mode: str):
    lock_wait, hold = MODES[mode]
    release = os.path.join(os.environ.get("APD_DIST_SIGNALS", "/nonexistent"), f"existing_{engine}.release")

    @dag(dag_id=f"existing_{mode}__{engine}", schedule=None, start_date=START, max_active_runs=4)
    def existing():
        @pulumi_stack(project=f"existing_{engine}", stack="dev", cli_path=cli, lock_wait=lock_wait)
        def app(mode: str):
            import pulumi

            from airflow_pulumi_decorators.testing.resources import Sleep

            # The program runs inside the update, so the stack stays locked while it waits.
            deadline = time.monotonic() + HOLD_AT_MOST
            while hold and not os.path.exists(release) and time.monotonic() < deadline:
                time.sleep(0.2)
            made = []
            for i in range(3):  # one after the other: an update of three steps
                made.append(Sleep(f"s{i}", seconds=0.1, opts=pulumi.ResourceOptions(depends_on=made[-1:])))
            return {"mode": mode}

        app(mode)

    return existing()


for _engine, _cli in engines().items():
    for _mode in MODES:
        build(_engine, _cli, _mode)
