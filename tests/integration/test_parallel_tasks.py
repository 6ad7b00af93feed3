"""Eight tasks on one worker at once, in separate processes, on distinct stacks of one file:// backend:
all succeed with their own outputs, each with its own PULUMI_HOME (none left behind), sharing one
worker-level plugin cache.

Separate processes are forked from one parent that imported Airflow (like Airflow's task supervisor),
each running the operator's ``execute`` against the executable stand-in (a real CLI subprocess per
call); ``dag.test()`` is not used because eight of them on one SQLite database would contend for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from airflow_pulumi_decorators.testing.standin import read_journal

pytestmark = pytest.mark.integration

N = 8
HERE = Path(__file__).resolve().parent
PASSPHRASE = "parallel-passphrase-2b7e"


def wrapper_cli(tmp_path: Path, record: Path) -> Path:
    """``pulumi`` that records which PULUMI_HOME each call sees (and what is in it), then runs the stand-in."""
    standin = Path(sys.executable).with_name("pulumi-standin")
    path = tmp_path / "bin" / "pulumi"
    path.parent.mkdir()
    path.write_text(
        "#!/bin/sh\n"
        f'echo "$$|$PULUMI_HOME|$(ls \\"$PULUMI_HOME/workspaces\\" 2>/dev/null | tr \'\\n\' \' \')|$*" >> "{record}"\n'
        f'exec "{standin}" "$@"\n'
    )
    path.chmod(0o755)
    return path


def _stack_of(args: str) -> str | None:
    words = args.split()
    if "--stack" in words:
        return words[words.index("--stack") + 1]
    if words[:2] == ["stack", "init"] or words[:3] == ["--non-interactive", "stack", "init"]:
        return words[words.index("init") + 1]
    return None


def test_eight_tasks_in_parallel_on_one_worker(tmp_path):
    backend = tmp_path / "state"
    backend.mkdir()
    worker = tmp_path / "worker"
    record = tmp_path / "calls.log"
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = {
        **os.environ,
        "PULUMI_BACKEND_URL": f"file://{backend}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "AIRFLOW__PULUMI__WORKER_DIR": str(worker),
        "AIRFLOW__PULUMI__PLUGIN_CACHE_DIR": str(tmp_path / "shared-plugins"),
        "AIRFLOW__PULUMI__PLUGINS": "none",  # the stand-in runs (and installs) no provider plugins
    }
    cli = wrapper_cli(tmp_path, record)
    proc = subprocess.run(
        [sys.executable, str(HERE / "parallel_driver.py"), str(cli), str(out_dir), str(N)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    logs = {p.stem: p.read_text() for p in out_dir.glob("*.log")}
    failed = {name: text[-2000:] for name, text in logs.items() if not (out_dir / f"{name}.json").exists()}
    assert summary["solo"] == [0] and summary["codes"] == [0] * N, failed

    # Correct outputs, no cross-talk between stacks.
    for i in range(N):
        out = json.loads((out_dir / f"task{i}.json").read_text())
        assert out == {"i": i, "stack": f"task{i}", "prefix": f"task{i}"}
        assert (backend / ".pulumi" / "stacks" / "parallel" / f"task{i}.json").exists()

    # Each task used its own PULUMI_HOME for every CLI call, saw only its own workspace in it,
    # and the home is gone; the plugin cache is the shared one.
    homes_by_stack: dict[str, set[str]] = defaultdict(set)
    for line in record.read_text().splitlines():
        _pid, home, listing, args = line.split("|", 3)
        assert home.startswith(str(worker / "homes") + os.sep), line
        assert len(listing.split()) <= 1, line  # only this task's own workspace file
        stack = _stack_of(args)
        if stack:
            homes_by_stack[stack].add(home)
    assert set(homes_by_stack) == {"solo", *(f"task{i}" for i in range(N))}
    assert all(len(h) == 1 for h in homes_by_stack.values()), homes_by_stack
    all_homes = [next(iter(h)) for h in homes_by_stack.values()]
    assert len(set(all_homes)) == N + 1
    assert os.listdir(worker / "homes") == []
    assert (tmp_path / "shared-plugins").is_dir()
    for name, text in logs.items():
        assert f"plugins shared in {tmp_path / 'shared-plugins'}" in text, name

    journal = read_journal(str(backend / ".pulumi" / "standin-journal.jsonl"))
    assert journal and all("PULUMI_HOME" in r["env_names"] for r in journal)
    assert all(r["code"] == 0 for r in journal if r["argv"][:2] != ["stack", "select"] and "select" not in r["argv"])
    assert PASSPHRASE not in "".join(logs.values()) + record.read_text()

    print(f"\n1 task: {summary['solo_s']:.2f}s; {N} tasks in parallel: {summary['parallel_s']:.2f}s")
