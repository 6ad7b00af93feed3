"""Fixtures for the stand-in engine tests: a file backend and stack factories."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pulumi import automation as auto

from airflow_pulumi_decorators.testing.standin import StandinCommand, install_shim

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def backend(tmp_path: Path) -> Path:
    """An empty directory used as the ``file://`` backend."""
    path = tmp_path / "backend"
    path.mkdir()
    return path


@pytest.fixture
def base_env(backend: Path) -> dict[str, str]:
    """Workspace env_vars pointing at the backend with a passphrase."""
    return {"PULUMI_BACKEND_URL": f"file://{backend}", "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE}


@pytest.fixture
def make_stack(tmp_path: Path, base_env: dict[str, str]) -> Callable[..., auto.Stack]:
    """Factory: ``create_or_select_stack`` through the real Automation API."""
    counter = iter(range(1000))

    def make(
        program: Callable[[], None],
        stack: str = "dev",
        project: str = "proj",
        env: dict | None = None,
        command: auto.PulumiCommand | None = None,
        replace_env: bool = False,
    ) -> auto.Stack:
        work_dir = tmp_path / f"work{next(counter)}"
        work_dir.mkdir()
        env_vars = dict(env or {}) if replace_env else {**base_env, **(env or {})}
        opts = auto.LocalWorkspaceOptions(
            pulumi_command=command or StandinCommand(),
            env_vars=env_vars,
            work_dir=str(work_dir),
        )
        return auto.create_or_select_stack(
            stack_name=stack, project_name=project, program=program, opts=opts
        )

    return make


@pytest.fixture(scope="session")
def shim_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A directory whose ``bin/pulumi`` is a symlink to ``pulumi-standin``."""
    root = tmp_path_factory.mktemp("shim")
    install_shim(str(root))
    assert os.path.islink(root / "bin" / "pulumi")
    return str(root)


def wait_for_lock(backend: Path, timeout: float) -> Path:
    """The first stack lock file under ``backend``, once one appears within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for lock in (backend / ".pulumi" / "locks").rglob("*.json"):
            # The file exists a moment before its content is written: wait until it reads whole.
            try:
                json.loads(lock.read_text())
            except (OSError, ValueError):
                continue
            return lock
        time.sleep(0.01)
    raise AssertionError("no lock file appeared")
