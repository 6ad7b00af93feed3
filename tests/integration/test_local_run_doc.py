"""docs/local-run.md's block, run as written (from an empty folder to `airflow dags test`) on the stand-in
and on the real CLI; only the install step uses this suite's venv instead of a new one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engines import real_pulumi

pytestmark = pytest.mark.integration

PAGE = Path(__file__).resolve().parents[2] / "docs" / "local-run.md"


def _block() -> str:
    (block,) = re.findall(r"```bash\n(.*?)```", PAGE.read_text(), re.DOTALL)
    return block


def test_the_local_run_block_runs_the_dag_on_the_stand_in_then_on_a_real_cli(tmp_path):
    block = _block()
    venv = Path(sys.executable).parent
    install = 'python3 -m venv .venv && . .venv/bin/activate\npip install "airflow-pulumi-decorators[testing]"\n'
    assert install in block, "the page's install step changed: update this test"
    script = block.replace(install, f". {venv}/activate\n")
    real = real_pulumi()
    if real is None:
        pytest.fail("no real pulumi CLI: set APD_REAL_PULUMI (scripts/test.sh does)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PULUMI_"))}
    env["PATH"] = f"{Path(real).parent}{os.pathsep}{env['PATH']}"  # 5b's real CLI, on PATH
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env, text=True,
                          capture_output=True, timeout=900)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    shown = [line for line in out.splitlines() if line.startswith("hello from Pulumi ")]
    assert len(shown) == 2, out[-4000:]  # the `show` task of each run prints the file and its sha256
    runs = re.findall(r"pulumi up on stack dev: changes: ([^;]*);", out)
    assert len(runs) == 2 and runs[0].startswith("create="), out[-4000:]
    assert runs[1].startswith("same=") and "," not in runs[1], out[-4000:]  # 5b reads what 5a wrote: no change
    assert "state=success" in out
