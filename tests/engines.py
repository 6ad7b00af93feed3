"""One fixture, three engines: the same DAG scenarios on the in-process stand-in, the ``pulumi-standin``
executable, and the real ``pulumi`` CLI (built from Go modules by ``scripts/real-pulumi.sh``).

A test asks for ``engine`` (or for ``header``, the DAG-file preamble that defines ``ENGINE``) and runs once
per engine. The real CLI is the one named by ``APD_REAL_PULUMI`` (``scripts/test.sh`` sets it), else a
``pulumi`` on PATH that is not the stand-in; without one, only the real-engine runs skip, and say why.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_pulumi_decorators.testing.standin import install_shim, read_journal


ENGINES = ("standin", "standin-exe", "real")

PREAMBLE = """
import pendulum
import pulumi
from airflow.sdk import dag, task
from airflow_pulumi_decorators import Environment, pulumi_stack
from airflow_pulumi_decorators.testing import StandinCommand

START = pendulum.datetime(2026, 1, 1)
"""

NO_REAL_CLI = (
    "no real `pulumi` CLI: build it with `bash scripts/real-pulumi.sh` (needs Go) and set APD_REAL_PULUMI to "
    "the binary, or run `bash scripts/test.sh`, which does both"
)

_SEP = "\x1f"


def real_pulumi() -> str | None:
    """The real ``pulumi`` executable to test against, or ``None`` (also for ``APD_REAL_PULUMI=skip``)."""
    explicit = os.environ.get("APD_REAL_PULUMI")
    if explicit:
        return explicit if explicit != "skip" and os.access(explicit, os.X_OK) else None
    found = shutil.which("pulumi")
    if found and "standin" not in os.path.basename(os.path.realpath(found)):
        return found
    return None


def recording_wrapper(target: str, folder: Path) -> tuple[Path, Path]:
    """A ``pulumi`` script in ``folder`` that appends its argv to a log, then runs ``target``.

    :param target: the executable to run.
    :param folder: where the script (``folder/pulumi``) and its log go.
    :return: the script and the log.
    """
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "invocations.log"
    script = folder / "pulumi"
    script.write_text(
        "#!/bin/sh\n"
        f"( IFS=$(printf '\\037'); printf '%s\\n' \"$*\" ) >> '{log}'\n"
        f"exec '{target}' \"$@\"\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script, log


@dataclass(frozen=True)
class EngineKit:
    """One engine, as the DAG files and the assertions see it.

    :param name: ``standin``, ``standin-exe`` or ``real``.
    :param header: the DAG-file preamble; it defines ``ENGINE``, the ``pulumi_command`` each task passes.
    :param cli: the executable the tasks run (a recording wrapper), ``None`` for the in-process stand-in.
    :param log: the wrapper's argv log.
    """

    name: str
    header: str
    cli: str | None = None
    log: Path | None = None

    @property
    def real(self) -> bool:
        return self.name == "real"

    def invocations(self, backend: Path) -> list[list[str]]:
        """Every CLI call the tasks made (argv after ``pulumi``), in order.

        :param backend: the ``file://`` backend folder (the in-process stand-in journals there).
        """
        if self.log is None:
            journal = backend / ".pulumi" / "standin-journal.jsonl"
            return [list(entry["argv"]) for entry in read_journal(str(journal))] if journal.exists() else []
        if not self.log.exists():
            return []
        return [line.split(_SEP) if line else [] for line in self.log.read_text().splitlines()]


def engine_kit(name: str, folder: Path, monkeypatch: pytest.MonkeyPatch, *, alone: bool = False) -> EngineKit:
    """Set up engine ``name`` for the DAG runs that follow (PATH, ``[pulumi]`` options) and describe it.

    :param name: one of :data:`ENGINES`.
    :param folder: where its executables and logs go.
    :param monkeypatch: undoes the environment changes after the test.
    :param alone: run the real CLI from a folder of its own, without the plugins installed beside it.
    """
    if name == "standin":
        monkeypatch.delenv("AIRFLOW__PULUMI__CLI_PATH", raising=False)
        return EngineKit(name, PREAMBLE + "ENGINE = StandinCommand()\n")
    if name == "standin-exe":
        target = install_shim(str(folder / "standin-shim"))
    else:
        found = real_pulumi()
        if found is None:
            if os.environ.get("APD_REQUIRE_REAL_PULUMI"):
                pytest.fail(f"APD_REQUIRE_REAL_PULUMI is set but there is {NO_REAL_CLI}")
            pytest.skip(NO_REAL_CLI)
        target = found
        if alone:
            target = str(folder / "cli" / "pulumi")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            try:
                os.link(found, target)
            except OSError:  # another file system
                shutil.copy2(found, target)
        # The CLI starts Python dynamic providers with the `python3` on PATH: this test run's.
        path = os.environ["PATH"]
        if not path.startswith(os.path.dirname(sys.executable) + os.pathsep):
            monkeypatch.setenv("PATH", os.pathsep.join([os.path.dirname(sys.executable), path]))
        # Pulumi would try to download plugins for the provider SDKs installed here (no network here).
        monkeypatch.setenv("AIRFLOW__PULUMI__PLUGINS", "none")
        monkeypatch.setenv("PULUMI_SKIP_UPDATE_CHECK", "true")
    script, log = recording_wrapper(target, folder / f"{name}-bin")
    monkeypatch.setenv("AIRFLOW__PULUMI__CLI_PATH", str(script))
    return EngineKit(name, PREAMBLE + "ENGINE = None\n", cli=str(script), log=log)


@pytest.fixture(params=ENGINES)
def engine(request, tmp_path, monkeypatch) -> EngineKit:
    """The engine a scenario runs on; parametrised over :data:`ENGINES`."""
    return engine_kit(request.param, tmp_path, monkeypatch)


@pytest.fixture
def header(engine: EngineKit) -> str:
    """The DAG-file preamble of the engine under test."""
    return engine.header
