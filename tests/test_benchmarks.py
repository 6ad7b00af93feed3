"""The benchmark harness (``benchmarks/run.py``) still runs and reports what docs/performance.md describes.

Only the shape of the result is checked, never a timing: performance is measured on demand, not asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_import_benchmark_reports_a_row_per_metric(tmp_path):
    out = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PULUMI_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--only", "import", "--json", str(out)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())

    rows = result["rows"]
    assert rows and {row["benchmark"] for row in rows} == {"import"}
    for row in rows:
        assert set(row) == {"benchmark", "metric", "ours", "base", "ratio", "unit", "note"}
        assert row["ours"] > 0 and row["base"] > 0 and row["ratio"] > 0, row
    assert result["details"]["import"]["heavy_modules"] == []  # the harness sees what test_import_cost checks
    assert "airflow_pulumi_decorators" in result["details"]["import"]["our_modules_package_only"]
    assert result["meta"]["quick"] is True and result["meta"]["cpus"] >= 1
    # The printed table is the markdown docs/performance.md shows: a header and one line per row.
    table = [line for line in done.stdout.splitlines() if line.startswith("| import |")]
    assert len(table) == len(rows)
