"""One measurement in a fresh interpreter, for ``benchmarks/run.py`` (not meant to be run by hand).

Usage: ``python _worker.py MODE SPEC_JSON OUT_JSON``. Each mode measures one thing and writes a JSON object
to ``OUT_JSON``; what it prints (task logs) goes wherever the caller sends it.

- ``import``: import a module; wall and CPU time, our modules and heavy modules it loaded.
- ``parse``: execute a DAG file (``airflow.sdk`` already imported, as in a DAG processor); wall and CPU time.
- ``task``: run a one-task DAG with ``dag.test()``: a ``@pulumi_stack`` task (``library``), a plain ``@task``
  running the same program through a bare Automation API script (``bare``), or a plain ``@task`` that does
  nothing (``noop``). Wall and CPU time of the task's ``execute`` (CPU includes the ``pulumi`` processes it
  waited for) and of the whole ``dag.test()``, and peak RSS.
- ``concurrency``: fork N task processes (as Airflow's supervisor does) each running a ``@pulumi_stack``
  task's operator ``execute`` on its own stack; wall time until all are done.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

HEAVY_ROOTS = ("pulumi", "pulumi_gcp", "grpc")
PROJECT = "bench"


def _cpu() -> float:
    """CPU seconds (user + system) of this process and of the children it has waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _heavy(modules) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY_ROOTS or m == "google.auth"
                  or m.startswith("google.auth."))


def _ours(modules) -> list[str]:
    return sorted(m for m in modules if m == "airflow_pulumi_decorators" or m.startswith("airflow_pulumi_decorators."))


def _rss_kb() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# -- import ------------------------------------------------------------------------------------------------


def measure_import(spec: dict[str, Any]) -> dict[str, Any]:
    before = set(sys.modules)
    for name in spec.get("preload", []):
        __import__(name)
    loaded_before = set(sys.modules)
    wall, cpu = time.perf_counter(), time.process_time()
    for name in spec["modules"]:
        __import__(name)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    new = set(sys.modules) - loaded_before
    return {"wall_s": wall, "cpu_s": cpu, "modules": len(new), "ours": _ours(new),
            "heavy": _heavy(set(sys.modules) - before)}


# -- parse -------------------------------------------------------------------------------------------------


def measure_parse(spec: dict[str, Any]) -> dict[str, Any]:
    import importlib.util

    for name in spec.get("preload", []):
        __import__(name)
    loaded_before = set(sys.modules)
    path = Path(spec["file"])
    wall, cpu = time.perf_counter(), time.process_time()
    module_spec = importlib.util.spec_from_file_location(f"bench_dag_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    new = set(sys.modules) - loaded_before
    dag = module.the_dag
    return {"wall_s": wall, "cpu_s": cpu, "tasks": len(dag.task_dict), "modules": len(new), "ours": _ours(new),
            "heavy": _heavy(sys.modules)}


# -- task --------------------------------------------------------------------------------------------------

DAG_HEADER = """
import pendulum
from airflow.sdk import dag, task
from airflow_pulumi_decorators import pulumi_stack

N = {resources}
STACK = {stack!r}
CLI = {cli!r}


def program():
    from airflow_pulumi_decorators.testing.resources import FakeName

    names = [FakeName(f"name{{i}}", prefix=f"r{{i}}", length=2) for i in range(N)]
    return {{"first": names[0].name, "count": N}}
"""

DAG_LIBRARY = DAG_HEADER + """

@dag(dag_id={dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="bench", stack=STACK, cli_path=CLI)
    def infra():
        return program()

    infra()


the_dag = d()
"""

DAG_BARE = DAG_HEADER + """

def exported():
    import pulumi

    for key, value in program().items():
        pulumi.export(key, value)

@dag(dag_id={dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @task
    def infra():
        import os
        import tempfile

        import pulumi.automation as auto

        home = tempfile.mkdtemp(prefix="bare-home-")
        command = auto.PulumiCommand(root=os.path.dirname(os.path.dirname(CLI)))
        stack = auto.create_or_select_stack(
            stack_name=STACK, project_name="bench", program=exported,
            opts=auto.LocalWorkspaceOptions(pulumi_command=command, pulumi_home=home),
        )
        result = stack.up(on_output=print)  # what a task would do with the engine's output: log it
        return {{key: value.value for key, value in result.outputs.items()}}

    infra()


the_dag = d()
"""

DAG_NOOP = DAG_HEADER + """

@dag(dag_id={dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @task
    def infra():
        return {{"first": "none", "count": 0}}

    infra()


the_dag = d()
"""

DAG_OPS = DAG_HEADER + """
CLIS = {clis!r}


@dag(dag_id={dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    up = pulumi_stack(project="bench", stack=STACK, cli_path=CLIS["up"], task_id="up")(program)
    preview = pulumi_stack(project="bench", stack=STACK, cli_path=CLIS["preview"], operation="preview",
                           task_id="preview")(program)
    refresh = pulumi_stack(project="bench", stack=STACK, cli_path=CLIS["refresh"], operation="refresh",
                           task_id="refresh")(program)
    destroy = pulumi_stack(project="bench", stack=STACK, cli_path=CLIS["destroy"], operation="destroy",
                           task_id="destroy")(program)
    up() >> preview() >> refresh() >> destroy()


the_dag = d()
"""

DAG_PLAN = DAG_HEADER + """
CLIS = {clis!r}
BINDING = {binding!r}


@dag(dag_id={dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    preview = pulumi_stack(project="bench", stack=STACK, cli_path=CLIS["preview"], operation="preview",
                           task_id="infra_preview")(program)
    bound = {{}} if BINDING == "unbound" else {{"approved_plan": "infra_preview", "strict_plan": BINDING == "strict"}}
    up = pulumi_stack(project="bench", stack=STACK, cli_path=CLIS["up"], task_id="infra", **bound)(program)
    preview() >> up()


the_dag = d()
"""

SOURCES = {"plan": DAG_PLAN, "ops": DAG_OPS, "library": DAG_LIBRARY, "bare": DAG_BARE, "noop": DAG_NOOP}


def measure_task(spec: dict[str, Any]) -> dict[str, Any]:
    rss_start = _rss_kb()
    import airflow.sdk  # noqa: F401 - the task runner has Airflow imported before any task starts

    from airflow_pulumi_decorators.testing.dagrun import DagRunner, StateDir

    timings: dict[str, float] = {}

    def timed(cls):
        inner = cls.execute

        def execute(self, context):
            wall, cpu = time.perf_counter(), _cpu()
            try:
                return inner(self, context)
            finally:
                timings["execute_wall_s"] = time.perf_counter() - wall
                timings["execute_cpu_s"] = _cpu() - cpu

        cls.execute = execute

    # The task's class's execute: DecoratedOperator subclasses run the program from their own execute.
    from airflow.sdk.bases.decorator import DecoratedOperator

    timed(DecoratedOperator)
    dag_id = f"bench_{spec['variant']}_{spec['stack']}_{spec.get('stack_run', '')}".replace("-", "_")
    source = SOURCES[spec["variant"]].format(dag_id=dag_id, resources=spec["resources"], stack=spec["stack"],
                                             cli=spec.get("cli"), clis=spec.get("clis"),
                                             binding=spec.get("binding"))
    rss_ready = _rss_kb()
    profiler = None
    thread_profiles: list[Any] = []
    if spec.get("profile"):
        import cProfile
        import threading

        # cProfile sees one thread; the engine runs the operation in a worker thread, so profile each thread.
        thread_run = threading.Thread.run

        def profiled_run(self):
            profile = cProfile.Profile(time.thread_time)
            thread_profiles.append(profile)
            profile.enable()
            try:
                thread_run(self)
            finally:
                profile.disable()

        threading.Thread.run = profiled_run
        profiler = cProfile.Profile(time.thread_time)  # CPU of each thread, not its waits
        profiler.enable()
    wall, cpu = time.perf_counter(), _cpu()
    result = DagRunner(None, StateDir(Path(spec["backend"]))).run_source(source, dag_id=dag_id)
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    if profiler is not None:
        import pstats

        profiler.disable()
        stats = pstats.Stats(profiler)
        for profile in thread_profiles:
            try:
                stats.add(profile)
            except TypeError:  # a thread still running (no stats yet)
                continue
        stats.dump_stats(spec["profile"])
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "state": result.state,
        "xcom": result.xcoms.get("infra", {}).get("return_value"),
        "task_states": result.task_states,
        "dag_test_wall_s": wall,
        "dag_test_cpu_s": cpu,
        **timings,
        "rss_start_kb": rss_start,
        "rss_ready_kb": rss_ready,
        "maxrss_kb": maxrss,
    }


# -- concurrency -------------------------------------------------------------------------------------------


def _fork_task(spec: dict[str, Any], name: str) -> int:
    from airflow_pulumi_decorators.operator import PulumiStackOperator
    from airflow_pulumi_decorators.testing.forked import fork_task

    n = spec["resources"]

    def program():
        from airflow_pulumi_decorators.testing.resources import FakeName

        names = [FakeName(f"name{i}", prefix=f"r{i}", length=2) for i in range(n)]
        return {"first": names[0].name}

    def make():
        return PulumiStackOperator(task_id=name, program=program, project=PROJECT, stack=name, cli_path=spec["cli"])

    return fork_task(make, dag_id=PROJECT, log_path=os.path.join(spec["out_dir"], f"{name}.log"))


def measure_concurrency(spec: dict[str, Any]) -> dict[str, Any]:
    import airflow.sdk  # noqa: F401 - imported once in the parent, like the task runner

    import airflow_pulumi_decorators.operator  # noqa: F401
    from airflow_pulumi_decorators.testing.forked import wait_all

    n, prefix = spec["tasks"], spec["prefix"]
    wall = time.perf_counter()
    serial = [wait_all([_fork_task(spec, f"{prefix}-serial-{i}")])[0] for i in range(n)]
    serial_s = time.perf_counter() - wall
    wall = time.perf_counter()
    parallel = wait_all([_fork_task(spec, f"{prefix}-parallel-{i}") for i in range(n)])
    parallel_s = time.perf_counter() - wall
    return {"serial_codes": serial, "serial_s": serial_s, "parallel_codes": parallel, "parallel_s": parallel_s}


MODES = {"import": measure_import, "parse": measure_parse, "task": measure_task, "concurrency": measure_concurrency}


def main() -> None:
    mode, spec, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    result = MODES[mode](spec)
    Path(out).write_text(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
