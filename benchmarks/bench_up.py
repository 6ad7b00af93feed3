"""How long one ``up`` task's engine work takes, in-process stand-in vs the ``pulumi-standin`` executable.

Run on demand (not part of the test suite): ``.venv/bin/python benchmarks/bench_up.py [rounds]``.
The two forms run interleaved in one process so machine noise hits both; the ratio is what to compare.
It also counts the CLI invocations one ``up`` makes, from the stand-in's journal.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from airflow_pulumi_decorators.engine import Engine, OperationRequest, RunContext
from airflow_pulumi_decorators.testing.standin import StandinCommand, install_shim, read_journal


def program():
    import pulumi_random as random

    pet = random.RandomPet("pet", length=2)
    return {"pet": pet.id}


def one_up(engine: Engine, stack: str, backend: str) -> float:
    started = time.perf_counter()
    engine.run(
        OperationRequest(
            project="bench",
            stack=stack,
            program=program,
            config={"bench:size": "1"},
            context=RunContext.from_env({"PULUMI_BACKEND_URL": backend, "PULUMI_CONFIG_PASSPHRASE": "bench"}),
            message="bench",
        )
    )
    return time.perf_counter() - started


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    os.environ.setdefault("AIRFLOW__PULUMI__PLUGINS", "none")  # the stand-in runs (and installs) no plugins
    with tempfile.TemporaryDirectory() as tmp:
        backend = f"file://{tmp}/state"
        os.makedirs(f"{tmp}/state")
        shim = install_shim(f"{tmp}/shim")
        quiet = lambda _line: None  # noqa: E731
        forms = {
            "in-process": Engine(pulumi_command=StandinCommand(), on_output=quiet),
            "subprocess": Engine(cli_path=shim, on_output=quiet),
        }
        times: dict[str, list[float]] = {name: [] for name in forms}
        for name, engine in forms.items():  # warm-up: first stack creation and imports
            one_up(engine, f"{name}-warm", backend)
        for i in range(rounds):
            for name, engine in forms.items():
                times[name].append(one_up(engine, f"{name}-{i}", backend))
        journal = read_journal(Path(tmp, "state", ".pulumi", "standin-journal.jsonl"))
        first_stack_calls = [e for e in journal if "in-process-0" in " ".join(e["argv"])]
        sub_calls = [e for e in journal if "subprocess-0" in " ".join(e["argv"])]
    print(f"rounds: {rounds} (new stack each round: select --create, set-all, up, stack output)")
    for name, values in times.items():
        print(f"{name:>11}: median {statistics.median(values):.3f}s  min {min(values):.3f}s  max {max(values):.3f}s")
    ratio = statistics.median(times["subprocess"]) / statistics.median(times["in-process"])
    print(f"subprocess / in-process: {ratio:.1f}x")
    print(f"CLI invocations for one up on a new stack: in-process {len(first_stack_calls)}, "
          f"subprocess {len(sub_calls)} (+1 `version` per worker for the subprocess form, not journaled)")
    for entry in sub_calls:
        print("   ", " ".join(a for a in entry["argv"] if not a.startswith("--client")))


if __name__ == "__main__":
    main()
