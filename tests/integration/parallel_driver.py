"""Run PulumiStackOperator tasks in separate processes on one worker, the way Airflow's task runner does.

The parent imports Airflow and the operator once, then forks one child per task (Airflow's supervisor
forks its task processes too) with ``airflow_pulumi_decorators.testing.forked``; each child runs
``operator.execute(context)`` against the executable stand-in engine. Prints one JSON line: per-task
results and wall times.

Usage: python parallel_driver.py CLI OUT_DIR N
"""

from __future__ import annotations

import json
import os
import sys
import time

from airflow_pulumi_decorators.testing.forked import fork_task, wait_all


def program(i: int):
    import pulumi
    import pulumi_random as random

    pet = random.RandomPet("pet", prefix=f"task{i}", length=1)
    return {"i": i, "stack": pulumi.get_stack(), "prefix": pet.prefix}


def run_task(cli: str, out_dir: str, name: str, i: int) -> int:
    """Fork one task process; returns its pid."""
    from airflow_pulumi_decorators.operator import PulumiStackOperator

    def make():
        return PulumiStackOperator(task_id=name, program=program, project="parallel", stack=name,
                                   op_kwargs={"i": i}, cli_path=cli)

    return fork_task(make, dag_id="parallel", log_path=os.path.join(out_dir, f"{name}.log"),
                     result_path=os.path.join(out_dir, f"{name}.json"))


def main() -> None:
    cli, out_dir, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    import airflow.sdk  # noqa: F401 - imported once in the parent, like the task runner

    import airflow_pulumi_decorators.operator  # noqa: F401

    started = time.monotonic()
    solo = wait_all([run_task(cli, out_dir, "solo", 0)])
    solo_s = time.monotonic() - started

    started = time.monotonic()
    codes = wait_all([run_task(cli, out_dir, f"task{i}", i) for i in range(n)])
    parallel_s = time.monotonic() - started
    print(json.dumps({"solo": solo, "codes": codes, "solo_s": solo_s, "parallel_s": parallel_s}))


if __name__ == "__main__":
    main()
