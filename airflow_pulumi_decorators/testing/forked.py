"""Stack tasks in forked processes, the way Airflow's task supervisor runs them, without ``dag.test()``.

The parent imports Airflow and the operator once; :func:`fork_task` forks one child per task, which runs
the operator's ``execute`` with a stand-in task instance and outlet events, its output in its own log
file. Many tasks at once on one worker, with no metadata database to contend for (``dag.test()`` runs
share one SQLite file): for concurrency tests and benchmarks. Linux and macOS only (``os.fork``).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any


class FakeTaskInstance:
    """What the operator reads from ``context["ti"]``; what the task pushes to XCom lands in :attr:`pushed`.

    :param task_id: the task's id.
    :param dag_id: the DAG's id.
    :param run_id: the DAG run's id.
    """

    def __init__(self, task_id: str, *, dag_id: str, run_id: str = "manual__1") -> None:
        self.dag_id, self.run_id, self.task_id, self.try_number, self.map_index = dag_id, run_id, task_id, 1, -1
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


class FakeOutletEvents(dict[Any, Any]):
    """``context["outlet_events"]``: each accessor records the asset events the task adds."""

    class Accessor:
        def __init__(self) -> None:
            self.extra: dict[str, Any] = {}
            self.added: list[tuple[Any, Any]] = []

        def add(self, asset: Any, extra: Any = None) -> None:
            self.added.append((asset, extra))

    def __missing__(self, key: Any) -> FakeOutletEvents.Accessor:
        self[key] = value = self.Accessor()
        return value


def task_context(ti: FakeTaskInstance) -> dict[str, Any]:
    """The context the operator's ``execute`` reads: ``ti``, ``params``, ``run_id``, ``outlet_events``."""
    return {"ti": ti, "params": {}, "run_id": ti.run_id, "outlet_events": FakeOutletEvents()}


def fork_task(
    make_operator: Callable[[], Any], *, dag_id: str, log_path: str, result_path: str | None = None
) -> int:
    """Fork one task process that runs ``make_operator().execute(context)``; returns its pid.

    The child exits 0 when the task succeeded, else 1 after printing the traceback. Its file descriptors 1
    and 2, ``sys.stdout`` and ``sys.stderr`` go to ``log_path``; logging handlers keep the streams they had.

    :param make_operator: builds the operator, in the child (as a task process does).
    :param dag_id: the DAG id the task instance reports.
    :param log_path: where the child's stdout and stderr go (created or truncated).
    :param result_path: where the child writes ``execute``'s return value as JSON, if given.
    """
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        # Python's own streams too: under pytest's capture they do not write to file descriptors 1 and 2.
        sys.stdout = sys.stderr = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
        operator = make_operator()
        result = operator.execute(task_context(FakeTaskInstance(operator.task_id, dag_id=dag_id)))
        if result_path:
            with open(result_path, "w", encoding="utf-8") as handle:
                json.dump(result, handle)
        code = 0
    except BaseException:  # noqa: BLE001 - the child reports everything and exits
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def wait_all(pids: Iterable[int]) -> list[int]:
    """Wait for each forked task in turn; their exit codes, in the same order."""
    return [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
