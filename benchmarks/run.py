"""The library's costs, measured side by side with what it replaces; run on demand, never in the test suite.

Usage::

    python benchmarks/run.py [--quick] [--only NAME[,NAME]] [--rounds N] [--json out.json]

Every measurement runs in a fresh interpreter (``benchmarks/_worker.py``), and the two sides of each
comparison are interleaved round by round, so machine noise hits both; medians and ratios are printed as one
markdown table. Benchmarks (``--only``): ``import``, ``parse``, ``task``, ``calls``, ``plan``, ``growth``,
``concurrency``, and ``profile`` (cProfile of one ``@pulumi_stack`` task; only when asked for). The real
``pulumi`` CLI is used when ``APD_REAL_PULUMI`` names it (or one is on PATH); otherwise only the
``pulumi-standin`` executable. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKER = HERE / "_worker.py"
PASSPHRASE = "bench-passphrase-5c2d"
PARSE_TASKS = 50


@dataclass
class Row:
    """One line of the table: a metric, the library's value, the baseline's, and their ratio.

    :param benchmark: which benchmark.
    :param metric: what is measured, and on which engine.
    :param ours: the median with the library (or the only value).
    :param base: the median of the baseline, ``None`` when nothing is compared.
    :param unit: ``s``, ``MB``, ``calls`` ...
    :param note: what the baseline is, or anything to read the numbers by.
    """

    benchmark: str
    metric: str
    ours: float
    base: float | None = None
    unit: str = "s"
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.ours / self.base if self.base else None

    def as_dict(self) -> dict[str, Any]:
        return {"benchmark": self.benchmark, "metric": self.metric, "ours": self.ours, "base": self.base,
                "ratio": self.ratio, "unit": self.unit, "note": self.note}


@dataclass
class Bench:
    """Where the workers run: a migrated Airflow home, a state folder, the engines' executables."""

    root: Path
    rounds: int
    quick: bool
    env: dict[str, str] = field(default_factory=dict)
    clis: dict[str, str] = field(default_factory=dict)  # engine name -> the executable it runs
    counter: int = 0
    warmed: set[str] = field(default_factory=set)
    home: Path | None = None
    migrated: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    def unique(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def worker(self, mode: str, spec: dict[str, Any], *, env: dict[str, str] | None = None) -> dict[str, Any]:
        """Run one measurement in a fresh interpreter; its output goes to a log file."""
        if mode == "task" and not self.migrated:  # only dag.test() needs the metadata database
            from airflow_pulumi_decorators.testing.airflow_home import migrate_database

            migrate_database(self.home)
            self.migrated = True
        name = self.unique(mode)
        out = self.root / "results" / f"{name}.json"
        log = self.root / "logs" / f"{name}.log"
        dags = self.root / "dags" / name  # a dags folder per run: dag.test() parses the whole folder
        dags.mkdir(parents=True)
        run_env = {**self.env, "AIRFLOW__CORE__DAGS_FOLDER": str(dags), **(env or {})}
        with log.open("w") as handle:
            done = subprocess.run([sys.executable, str(WORKER), mode, json.dumps(spec), str(out)],
                                  stdout=handle, stderr=subprocess.STDOUT, env=run_env, timeout=900, check=False)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"benchmark worker {mode} {spec} failed ({done.returncode}); see the end of {log}:\n"
                               + log.read_text()[-3000:])
        return json.loads(out.read_text())

    def engine_env(self, engine: str) -> dict[str, str]:
        if engine != "real":
            return {}
        # The real CLI starts Python dynamic providers with the `python3` on PATH: this interpreter's.
        return {"PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
                "AIRFLOW__PULUMI__PLUGINS": "none"}

    def wrapper(self, engine: str, label: str) -> tuple[str, Path]:
        """A recording ``pulumi`` (``<folder>/bin/pulumi``) in front of ``engine``'s executable, and its log."""
        sys.path.insert(0, str(ROOT))
        from airflow_pulumi_decorators.testing.engines import recording_wrapper

        script, log = recording_wrapper(self.clis[engine], self.root / "clis" / f"{engine}-{label}" / "bin")
        return str(script), log


def setup(root: Path, rounds: int, quick: bool) -> Bench:
    sys.path.insert(0, str(ROOT))
    from airflow_pulumi_decorators.testing.airflow_home import isolate_airflow_home
    from airflow_pulumi_decorators.testing.engines import real_pulumi
    from airflow_pulumi_decorators.testing.standin import install_shim

    for sub in ("results", "logs", "dags", "state", "worker", "clis"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    home = isolate_airflow_home(root / "home")  # sets AIRFLOW_HOME & co. in os.environ for the workers
    bench = Bench(root, rounds, quick, home=home)
    bench.env = {
        # Bytecode cached, as a DAG processor or worker has it: otherwise every fresh interpreter pays for
        # compiling our modules and Airflow's, which no deployed parse does after its first.
        **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        "PYTHONPYCACHEPREFIX": str(root / "pycache"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "PULUMI_BACKEND_URL": f"file://{root / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "AIRFLOW__PULUMI__WORKER_DIR": str(root / "worker"),
        # No plugin downloads: the stand-in runs (and installs) none, the real CLI's sit beside it.
        "AIRFLOW__PULUMI__PLUGINS": "none",
    }
    bench.clis["standin-exe"] = install_shim(str(root / "standin-shim"))
    real = real_pulumi()
    if real and not quick:
        bench.clis["real"] = real
    return bench


def med(values: list[float]) -> float:
    return statistics.median(values)


# -- the benchmarks ---------------------------------------------------------------------------------------


def bench_import(b: Bench) -> list[Row]:
    """Fresh interpreters: ``import airflow.sdk`` vs the same plus our package and decorator."""
    variants = {
        "airflow.sdk": {"modules": ["airflow.sdk"]},
        "package": {"modules": ["airflow_pulumi_decorators"]},
        "sdk+ours": {"modules": ["airflow.sdk", "airflow_pulumi_decorators", "airflow_pulumi_decorators.decorators"]},
    }
    results: dict[str, list[dict]] = {k: [] for k in variants}
    for spec in variants.values():  # compiles and caches the bytecode of every side
        b.worker("import", spec)
    for _ in range(b.rounds + 2 if not b.quick else 1):  # cheap: two more rounds than the default
        for name, spec in variants.items():
            results[name].append(b.worker("import", spec))
    wall = {k: med([r["wall_s"] for r in v]) for k, v in results.items()}
    cpu = {k: med([r["cpu_s"] for r in v]) for k, v in results.items()}
    heavy = sorted({m for v in results.values() for r in v for m in r["heavy"]} - set())
    b.details["import"] = {"heavy_modules": heavy, "our_modules_with_decorator": results["sdk+ours"][0]["ours"],
                           "our_modules_package_only": results["package"][0]["ours"],
                           "rounds": len(results["package"])}
    note = "heavy modules loaded: " + (", ".join(heavy) if heavy else "none")
    return [
        Row("import", "`import airflow_pulumi_decorators` alone, CPU", cpu["package"], cpu["airflow.sdk"],
            note="base: `import airflow.sdk`; " + note),
        Row("import", "`airflow.sdk` + package + decorator module, CPU", cpu["sdk+ours"], cpu["airflow.sdk"],
            note="base: `import airflow.sdk`"),
        Row("import", "`airflow.sdk` + package + decorator module, wall", wall["sdk+ours"], wall["airflow.sdk"],
            note="base: `import airflow.sdk`"),
    ]


def _dag_file(path: Path, stack_tasks: bool) -> None:
    lines = ["import pendulum", "from airflow.sdk import dag, task"]
    if stack_tasks:
        lines.append("from airflow_pulumi_decorators import pulumi_stack")
    lines += ["", "", "@dag(dag_id='parse_bench', schedule=None, start_date=pendulum.datetime(2026, 1, 1))",
              "def d():"]
    for i in range(PARSE_TASKS):
        decorator = f"@pulumi_stack(project='proj{i}', stack='dev')" if stack_tasks else "@task"
        lines += [f"    {decorator}", f"    def t{i}(region: str = 'EU'):",
                  "        return {'region': region}", f"    t{i}()", ""]
    lines += ["", "the_dag = d()", ""]
    path.write_text("\n".join(lines))


def bench_parse(b: Bench) -> list[Row]:
    """Executing a DAG file of 50 ``@pulumi_stack`` tasks vs 50 plain ``@task``s, ``airflow.sdk`` preloaded."""
    folder = b.root / "parse"
    folder.mkdir(exist_ok=True)
    plain, stack = folder / "plain.py", folder / "stack.py"
    _dag_file(plain, False)
    _dag_file(stack, True)
    ours = ["airflow_pulumi_decorators", "airflow_pulumi_decorators.decorators"]
    variants = {
        "plain": {"file": str(plain), "preload": ["airflow.sdk"]},
        "stack-cold": {"file": str(stack), "preload": ["airflow.sdk"]},
        "stack-warm": {"file": str(stack), "preload": ["airflow.sdk", *ours]},
    }
    results: dict[str, list[dict]] = {k: [] for k in variants}
    for spec in variants.values():  # compiles and caches the bytecode of every side
        b.worker("parse", spec)
    for _ in range(b.rounds + 2 if not b.quick else 1):
        for name, spec in variants.items():
            results[name].append(b.worker("parse", spec))
    cpu = {k: med([r["cpu_s"] for r in v]) for k, v in results.items()}
    wall = {k: med([r["wall_s"] for r in v]) for k, v in results.items()}
    assert all(r["tasks"] == PARSE_TASKS for v in results.values() for r in v)
    cold = results["stack-cold"][0]
    b.details["parse"] = {"our_modules_imported_by_parse": cold["ours"], "heavy_modules": cold["heavy"],
                          "engine_imported": "airflow_pulumi_decorators.engine" in cold["ours"],
                          "modules_imported_by_parse": {k: v[0]["modules"] for k, v in results.items()}}
    base = f"base: 50 plain `@task`s (airflow.sdk preloaded; {results['plain'][0]['modules']} modules imported)"
    return [
        Row("parse", f"50 `@pulumi_stack` tasks, CPU (package imported by the file: {cold['modules']} modules)",
            cpu["stack-cold"], cpu["plain"], note=base),
        Row("parse", "same, wall", wall["stack-cold"], wall["plain"], note=base),
        Row("parse", "50 `@pulumi_stack` tasks, package already imported, CPU", cpu["stack-warm"], cpu["plain"],
            note="per-file cost once the package is loaded in the parsing process"),
    ]


def _task_runs(b: Bench, engine: str, variants: tuple[str, ...], resources: int, rounds: int,
               label: str) -> dict[str, list[dict]]:
    """Interleaved rounds of one-task DAG runs; each result also carries its CLI call count."""
    results: dict[str, list[dict]] = {v: [] for v in variants}
    wrappers = {v: b.wrapper(engine, f"{label}-{v}") for v in variants}
    if engine not in b.warmed:  # the first runs pay for cold caches (bytecode, page cache, plugins)
        for variant in ("bare", "library"):
            b.worker("task", {"variant": variant, "resources": 1, "stack": b.unique(f"warm-{variant}"),
                              "cli": b.clis[engine], "backend": str(b.root / "state")}, env=b.engine_env(engine))
        b.warmed.add(engine)
    for _ in range(rounds):
        for variant in variants:
            cli, log = wrappers[variant]
            before = len(_calls(log))
            spec = {"variant": variant, "resources": resources, "stack": b.unique(f"{label}-{variant}"),
                    "cli": cli, "backend": str(b.root / "state")}
            result = b.worker("task", spec, env=b.engine_env(engine))
            if result["state"] != "success":
                raise RuntimeError(f"{variant} task on {engine} did not succeed: {result}")
            result["calls"] = _calls(log)[before:]
            results[variant].append(result)
    return results


def _calls(log: Path) -> list[str]:
    """The command words of every call in a recording wrapper's log (``up``, ``stack select`` ...)."""
    from airflow_pulumi_decorators.testing.engines import EngineKit

    commands = [call.command for call in EngineKit("recorded", "", log=log).calls(Path())]
    return ["stack init" if c.startswith("stack init ") else c for c in commands]


def bench_task(b: Bench) -> list[Row]:
    """One ``up`` of one resource on a new stack: ``@pulumi_stack`` vs a plain ``@task`` running the same
    program through a bare Automation API script, vs a plain ``@task`` doing nothing (``dag.test()`` alone)."""
    rows: list[Row] = []
    b.details["task"] = {}
    rounds = b.rounds if not b.quick else 1
    for engine in b.clis:
        runs = _task_runs(b, engine, ("noop", "bare", "library"), 1, rounds, f"task-{engine}")
        m = {v: {k: med([r[k] for r in rs]) for k in ("execute_wall_s", "execute_cpu_s", "dag_test_wall_s",
                                                     "dag_test_cpu_s", "maxrss_kb")} for v, rs in runs.items()}
        lib, bare, noop = m["library"], m["bare"], m["noop"]
        rows += [
            Row("task", f"`up` task execute, wall ({engine})", lib["execute_wall_s"], bare["execute_wall_s"],
                note="base: plain `@task` running the program with a bare Automation API script"),
            Row("task", f"`up` task execute, CPU incl. `pulumi` processes ({engine})", lib["execute_cpu_s"],
                bare["execute_cpu_s"], note="same base"),
            Row("task", f"whole `dag.test()` minus a no-op task's, wall ({engine})",
                lib["dag_test_wall_s"] - noop["dag_test_wall_s"], bare["dag_test_wall_s"] - noop["dag_test_wall_s"],
                note=f"a no-op task's `dag.test()` takes {noop['dag_test_wall_s']:.2f}s"),
            Row("task", f"whole `dag.test()`, wall ({engine})", lib["dag_test_wall_s"], bare["dag_test_wall_s"],
                note="as the issue measured it (Airflow's own cost included)"),
            Row("rss", f"peak RSS increment over a no-op `@task` ({engine})",
                (lib["maxrss_kb"] - noop["maxrss_kb"]) / 1024, (bare["maxrss_kb"] - noop["maxrss_kb"]) / 1024,
                unit="MB",
                note=f"base: the bare script's increment; no-op task peak {noop['maxrss_kb'] / 1024:.0f} MB"),
            Row("calls", f"CLI calls for one `up` on a new stack ({engine})",
                med([len(r["calls"]) for r in runs["library"]]), med([len(r["calls"]) for r in runs["bare"]]),
                unit="calls", note="base: the bare script (incl. its `pulumi version`)"),
        ]
        b.details["task"][engine] = {
            "rounds": rounds,
            "medians": m,
            "execute_wall_rounds": {v: [round(r["execute_wall_s"], 3) for r in rs] for v, rs in runs.items()},
            "library_calls": runs["library"][0]["calls"],
            "bare_calls": runs["bare"][0]["calls"],
        }
    return rows


def bench_calls(b: Bench) -> list[Row]:
    """CLI calls per operation: one DAG of up >> preview >> refresh >> destroy, run twice on one stack (the
    second run's ``up`` finds the stack)."""
    engine = "standin-exe"
    stack = b.unique("ops")
    wrappers = {op: b.wrapper(engine, f"{stack}-{op}") for op in ("up", "preview", "refresh", "destroy")}
    counts: dict[str, list[list[str]]] = {op: [] for op in wrappers}
    for _ in range(2):
        seen = {op: len(_calls(log)) for op, (_, log) in wrappers.items()}
        result = b.worker("task", {"variant": "ops", "resources": 1, "stack": stack, "backend": str(b.root / "state"),
                                   "clis": {op: cli for op, (cli, _) in wrappers.items()}, "cli": None,
                                   "stack_run": b.counter})
        if result["state"] != "success":
            raise RuntimeError(f"operations DAG failed: {result}")
        for op, (_, log) in wrappers.items():
            counts[op].append(_calls(log)[seen[op]:])
    b.details["calls"] = counts
    rows = [Row("calls", f"`{op}`{' (new stack)' if op == 'up' else ''}, `@pulumi_stack`", len(counts[op][0]),
                unit="calls", note=", ".join(counts[op][0])) for op in counts]
    rows.append(Row("calls", "`up` (existing stack), `@pulumi_stack`", len(counts["up"][1]), unit="calls",
                    note=", ".join(counts["up"][1])))
    return rows


def bench_plan(b: Bench) -> list[Row]:
    """The cost of plan binding: a preview then an ``up`` of one resource on a new stack, the ``up`` unbound (as
    before), bound to the preview (``approved_plan``: it plans again and compares first) and strict (also held to
    that plan; real CLI only). Interleaved rounds; the ``up`` task's execute wall and its CLI calls."""
    rounds = b.rounds if not b.quick else 1
    rows: list[Row] = []
    b.details["plan"] = {}
    for engine in b.clis:
        variants = ("unbound", "bound", "strict") if engine == "real" else ("unbound", "bound")
        clis = {v: {op: b.wrapper(engine, f"plan-{v}-{op}") for op in ("preview", "up")} for v in variants}
        runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
        for round_ in range(rounds + 1):  # the first round warms the caches and is not counted
            for variant in variants:
                _, log = clis[variant]["up"]
                before = len(_calls(log))
                spec = {"variant": "plan", "binding": variant, "resources": 1, "stack": b.unique(f"plan-{variant}"),
                        "cli": None, "clis": {op: cli for op, (cli, _) in clis[variant].items()},
                        "backend": str(b.root / "state")}
                result = b.worker("task", spec, env=b.engine_env(engine))
                if result["state"] != "success":
                    raise RuntimeError(f"plan {variant} on {engine} did not succeed: {result}")
                result["calls"] = _calls(log)[before:]
                if round_:
                    runs[variant].append(result)
        wall = {v: med([r["execute_wall_s"] for r in rs]) for v, rs in runs.items()}
        fastest = {v: min(r["execute_wall_s"] for r in rs) for v, rs in runs.items()}
        calls = {v: med([len(r["calls"]) for r in rs]) for v, rs in runs.items()}
        for variant in variants[1:]:
            rows += [
                Row("plan", f"`up` task execute, {variant} vs unbound, wall ({engine})", wall[variant],
                    wall["unbound"], note="base: today's approved `up` (not bound); one resource, new stack; "
                    f"fastest round {fastest[variant]:.2f}s vs {fastest['unbound']:.2f}s"),
                Row("plan", f"CLI calls of the `up` task, {variant} vs unbound ({engine})", calls[variant],
                    calls["unbound"], unit="calls", note=", ".join(runs[variant][0]["calls"])),
            ]
        b.details["plan"][engine] = {"rounds": rounds, "execute_wall_rounds": {
            v: [round(r["execute_wall_s"], 3) for r in rs] for v, rs in runs.items()},
            "calls": {v: rs[0]["calls"] for v, rs in runs.items()}}
    return rows


def bench_growth(b: Bench) -> list[Row]:
    """``up`` with 1, 10 and 50 dynamic-provider resources on a new stack, library vs bare script."""
    sizes = (1, 10) if b.quick else (1, 10, 50)
    rounds = 1
    m: dict[int, dict[str, float]] = {}
    for n in sizes:
        runs = _task_runs(b, "standin-exe", ("bare", "library"), n, rounds, f"growth{n}")
        m[n] = {v: med([r["execute_wall_s"] for r in rs]) for v, rs in runs.items()}
    rows = [Row("growth", f"`up` of {n} resources, execute wall (standin-exe)", m[n]["library"], m[n]["bare"],
                note="base: bare Automation API script") for n in sizes]
    first, last = sizes[0], sizes[-1]
    per = {v: (m[last][v] - m[first][v]) / (last - first) for v in ("library", "bare")}
    rows.append(Row("growth", f"time per added resource ({first}→{last})", per["library"], per["bare"],
                    note="slope; base: bare script"))
    b.details["growth"] = m
    return rows


def bench_concurrency(b: Bench) -> list[Row]:
    """N ``@pulumi_stack`` tasks on separate stacks, in processes forked from one parent (as Airflow's task
    supervisor does): all at once vs one after another."""
    levels = (1, 2) if b.quick else (1, 2, 4)
    cli, _ = b.wrapper("standin-exe", "concurrency")
    wall: dict[int, dict[str, float]] = {}
    for n in levels:
        out = b.root / "concurrency" / str(n)
        out.mkdir(parents=True, exist_ok=True)
        result = b.worker("concurrency", {"tasks": n, "prefix": b.unique(f"conc{n}"), "cli": cli, "resources": 1,
                                          "out_dir": str(out)})
        if any(result["serial_codes"] + result["parallel_codes"]):
            raise RuntimeError(f"concurrent tasks failed: {result}; logs in {out}")
        wall[n] = {"parallel": result["parallel_s"], "serial": result["serial_s"]}
    b.details["concurrency"] = wall
    return [Row("concurrency", f"{n} task{'s' if n > 1 else ''} at once, wall until all done (standin-exe)",
                wall[n]["parallel"], wall[n]["serial"],
                note=f"base: the same {n} run one after another; per task at once: {wall[n]['parallel'] / n:.2f}s")
            for n in levels]


def bench_profile(b: Bench) -> list[Row]:
    """cProfile of one ``@pulumi_stack`` ``up`` task (standin-exe): the top functions of our package."""
    import pstats

    cli, _ = b.wrapper("standin-exe", "profile")
    rows = []
    for variant in ("library", "bare"):
        prof = b.root / f"{variant}.prof"
        b.worker("task", {"variant": variant, "resources": 1, "stack": b.unique(f"prof-{variant}"), "cli": cli,
                          "backend": str(b.root / "state"), "profile": str(prof)})
        out = b.root / f"{variant}-profile.txt"
        with out.open("w") as handle:
            stats = pstats.Stats(str(prof), stream=handle)
            stats.sort_stats("cumulative").print_stats(60)
            stats.sort_stats("tottime").print_stats(30)
        b.details.setdefault("profile", {})[variant] = str(out)
        rows.append(Row("profile", f"cProfile of one `{variant}` task written", 0.0, unit="", note=str(out)))
    return rows


BENCHMARKS: dict[str, Callable[[Bench], list[Row]]] = {
    "import": bench_import,
    "parse": bench_parse,
    "task": bench_task,
    "calls": bench_calls,
    "plan": bench_plan,
    "growth": bench_growth,
    "concurrency": bench_concurrency,
    "profile": bench_profile,
}
DEFAULT = ("import", "parse", "task", "calls", "plan", "growth", "concurrency")


def table(rows: list[Row]) -> str:
    lines = ["| benchmark | metric | library | baseline | ratio | note |", "|---|---|---:|---:|---:|---|"]
    for r in rows:
        fmt = (lambda v: f"{v:.3f}") if r.unit == "s" else (lambda v: f"{v:.0f}" if r.unit == "calls" else f"{v:.1f}")  # noqa: B023 - used in this iteration
        ours = f"{fmt(r.ours)} {r.unit}".strip()
        base = f"{fmt(r.base)} {r.unit}".strip() if r.base is not None else "–"
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "–"
        lines.append(f"| {r.benchmark} | {r.metric} | {ours} | {base} | {ratio} | {r.note} |")
    return "\n".join(lines)


def run(names: list[str], *, quick: bool = False, rounds: int | None = None,
        keep: Path | None = None) -> dict[str, Any]:
    """Run the named benchmarks and return ``{"rows": [...], "details": {...}, "meta": {...}}``.

    :param names: benchmark names (keys of :data:`BENCHMARKS`).
    :param quick: one round, fewer sizes, the stand-in executable only.
    :param rounds: rounds per comparison (default 3, quick 1).
    :param keep: keep the work folder (logs, results) here instead of a temporary one.
    """
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    started = time.monotonic()
    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="apd-bench-"))
    try:
        bench = setup(root, rounds or (1 if quick else 3), quick)
        rows: list[Row] = []
        durations = {}
        for name in names:
            t = time.monotonic()
            rows += BENCHMARKS[name](bench)
            durations[name] = round(time.monotonic() - t, 1)
        return {
            "rows": [r.as_dict() for r in rows],
            "table": table(rows),
            "details": bench.details,
            "meta": {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(),
                     "python": platform.python_version(), "engines": sorted(bench.clis), "quick": quick,
                     "rounds": bench.rounds, "load_average": os.getloadavg(), "durations_s": durations,
                     "total_s": round(time.monotonic() - started, 1)},
        }
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a 1-2 minute smoke run (one round, stand-in only)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per comparison (default 3)")
    parser.add_argument("--json", dest="json_out", default=None, help="also write the results here")
    parser.add_argument("--keep", default=None, help="keep logs and results in this folder")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(DEFAULT)
    result = run(names, quick=args.quick, rounds=args.rounds, keep=Path(args.keep) if args.keep else None)
    meta = result["meta"]
    print(f"{meta['date']}, {meta['cpus']} CPUs, load {', '.join(f'{x:.1f}' for x in meta['load_average'])}, "
          f"Python {meta['python']}, engines: {', '.join(meta['engines'])}, rounds: {meta['rounds']}, "
          f"took {meta['total_s']:.0f}s {meta['durations_s']}\n")
    print(result["table"])
    print("\nDetails:\n" + json.dumps(result["details"], indent=1, default=str))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
