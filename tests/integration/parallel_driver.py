"""Run PulumiStackOperator tasks in separate processes on one worker, the way Airflow's task runner does.

The parent imports Airflow and the operator once, then forks one child per task (Airflow's supervisor
forks its task processes too); each child runs ``operator.execute(context)`` against the executable
stand-in engine. Prints one JSON line: per-task results and wall times.

Usage: python parallel_driver.py CLI OUT_DIR N
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback


def program(i: int):
    import pulumi
    import pulumi_random as random

    pet = random.RandomPet("pet", prefix=f"task{i}", length=1)
    return {"i": i, "stack": pulumi.get_stack(), "prefix": pet.prefix}


class FakeTI:
    """What the operator reads from ``context["ti"]``."""

    def __init__(self, task_id: str) -> None:
        self.dag_id, self.run_id, self.task_id, self.try_number, self.map_index = "parallel", "manual__1", task_id, 1, -1
        self.pushed: dict = {}

    def xcom_push(self, key, value):
        self.pushed[key] = value


class FakeOutletEvents(dict):
    """``context["outlet_events"]``: records what the task emits."""

    class Accessor:
        def __init__(self) -> None:
            self.extra: dict = {}
            self.added: list = []

        def add(self, asset, extra=None):
            self.added.append((asset, extra))

    def __missing__(self, key):
        self[key] = value = self.Accessor()
        return value


def run_task(cli: str, out_dir: str, name: str, i: int) -> int:
    """Fork one task process; returns its pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        log = os.open(os.path.join(out_dir, f"{name}.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        from airflow_pulumi_decorators.operator import PulumiStackOperator

        op = PulumiStackOperator(task_id=name, program=program, project="parallel", stack=name,
                                 op_kwargs={"i": i}, cli_path=cli)
        ti = FakeTI(name)
        result = op.execute({"ti": ti, "params": {}, "run_id": ti.run_id, "outlet_events": FakeOutletEvents()})
        with open(os.path.join(out_dir, f"{name}.json"), "w") as handle:
            json.dump(result, handle)
        code = 0
    except BaseException:  # noqa: BLE001 - the child reports everything and exits
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def wait_all(pids: list[int]) -> list[int]:
    return [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]


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
