"""``scripts/real-pulumi.sh`` with a stub ``go`` (a build of a few seconds, never the real one): it says
before a build starts how long it takes and how to skip it, and two runs at once share one build."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "real-pulumi.sh"

#: Records each call, takes a moment, then writes a fake ``pulumi`` where ``-o`` says.
STUB_GO = """#!/usr/bin/env bash
echo "$$" >> "{calls}"
sleep 2
while [ $# -gt 0 ]; do [ "$1" = -o ] && out="$2"; shift; done
mkdir -p "$(dirname "$out")"
printf '#!/bin/sh\\necho v0.0.0-stub\\n' > "$out" && chmod +x "$out"
"""


def _env(tmp_path: Path) -> dict[str, str]:
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "go").write_text(STUB_GO.format(calls=tmp_path / "go-calls.log"))
    (stub / "go").chmod(0o755)
    return {**os.environ, "PATH": f"{stub}{os.pathsep}{os.environ['PATH']}",
            "APD_REAL_PULUMI_CACHE": str(tmp_path / "cache")}


def _start(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(["bash", str(SCRIPT)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_build_is_announced_and_a_second_run_waits_for_it_and_uses_its_cli(tmp_path):
    env = _env(tmp_path)
    first = _start(env)
    lock = tmp_path / "cache" / ".build.lock"
    deadline = time.monotonic() + 30
    while not (tmp_path / "go-calls.log").exists():  # the first run holds the lock and is building
        assert time.monotonic() < deadline and first.poll() is None, first.communicate()
        time.sleep(0.05)
    second = _start(env)
    out1, err1 = first.communicate(timeout=60)
    out2, err2 = second.communicate(timeout=60)

    assert first.returncode == 0 and second.returncode == 0, (err1, err2)
    bin_dir = out1.strip()
    assert out2.strip() == bin_dir and Path(bin_dir, "pulumi").is_file()  # stdout: the bin folder only
    assert Path(bin_dir, "pulumi-resource-pulumi-python").is_file()
    notice = err1.splitlines()[0]
    assert "about 9 minutes on 2 cores" in notice and bin_dir in notice and "APD_REAL_PULUMI=skip" in notice
    assert "waiting for it" in err2 and str(lock) in err2 and "built meanwhile" in err2
    assert "9 minutes" not in err2  # it did not build
    assert len((tmp_path / "go-calls.log").read_text().split()) == 1

    # Cached: no build, no notice, no wait.
    third = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=True)
    assert third.stdout.strip() == bin_dir and "cached" in third.stderr and "9 minutes" not in third.stderr
    assert len((tmp_path / "go-calls.log").read_text().split()) == 1
