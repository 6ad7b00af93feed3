"""The engines a test can run its DAGs on: the in-process stand-in, the ``pulumi-standin`` executable and
the real ``pulumi`` CLI, behind one description (:class:`EngineKit`).

:func:`engine_kit` sets an engine up for the DAG runs that follow and records every CLI call the tasks
make (arguments, and the *names* of the environment variables the engine saw, never their values). The
real CLI is the one named by ``APD_REAL_PULUMI``, else a ``pulumi`` on PATH that is not the stand-in;
without one, a test asking for it skips and says why (fails, with ``APD_REQUIRE_REAL_PULUMI=1``).

Nothing here imports Pulumi until an engine is set up.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from airflow_pulumi_decorators import operations
from airflow_pulumi_decorators.testing.standin.journal import read_journal

#: Every engine name, in the order a test parametrised over all of them runs.
ENGINES = ("standin", "standin-exe", "real")

#: Imports and ``START`` for DAG sources written inside tests; :attr:`EngineKit.header` adds ``ENGINE``.
PREAMBLE = """
import pendulum
import pulumi
from airflow.sdk import dag, task
from airflow_pulumi_decorators import Environment, pulumi_stack
from airflow_pulumi_decorators.testing import StandinCommand

START = pendulum.datetime(2026, 1, 1)
"""

NO_REAL_CLI = (
    "no real `pulumi` CLI: install one (or build it with `bash scripts/real-pulumi.sh`, which needs Go) and "
    "set APD_REAL_PULUMI to the binary, or put it on PATH"
)

_ARG_SEP = "\x1f"
_ENV_SEP = "\x1e"

#: The deployment operations, each the first word of its CLI call (the operation vocabulary's names).
OPERATIONS = operations.OPERATIONS


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
    """A ``pulumi`` script in ``folder`` that logs each call, then runs ``target``.

    Each call is one line: the arguments, then the names of the exported environment variables (values are
    never written).

    :param target: the executable to run.
    :param folder: where the script (``folder/pulumi``) and its log go.
    :return: the script and the log.
    """
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "invocations.log"
    script = folder / "pulumi"
    script.write_text(
        "#!/bin/sh\n"
        "names=$(export -p | sed -nE 's/^(export|declare -x) ([A-Za-z_][A-Za-z0-9_]*)=.*/\\2/p' | tr '\\n' '\\037')\n"
        f"( IFS=$(printf '\\037'); printf '%s\\036%s\\n' \"$*\" \"$names\" ) >> '{log}'\n"
        f"exec '{target}' \"$@\"\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script, log


@dataclass(frozen=True)
class EngineCall:
    """One ``pulumi`` call a task made.

    :param argv: the arguments after ``pulumi`` (the stand-in's journal redacts configuration values).
    :param env_names: the names of the environment variables the engine was started with.
    """

    argv: tuple[str, ...]
    env_names: frozenset[str]

    @property
    def command(self) -> str:
        """The command words, e.g. ``up``, ``stack select``, ``config set-all``."""
        words: list[str] = []
        for token in self.argv:
            if token.startswith("-"):
                if words:
                    break
                continue
            words.append(token)
        return " ".join(words)


@dataclass(frozen=True)
class EngineKit:
    """One engine, as the DAG runs and the assertions see it.

    :param name: ``standin``, ``standin-exe`` or ``real``.
    :param header: a DAG-source preamble (:data:`PREAMBLE`) that defines ``ENGINE``, the ``pulumi_command``
        to pass in DAG sources written inside a test.
    :param cli: the executable the tasks run (a recording wrapper), ``None`` for the in-process stand-in.
    :param log: the wrapper's call log.
    :param command: the in-process engine (a ``StandinCommand``) the DAG runners give every
        ``@pulumi_stack`` task that names none, ``None`` for the executables (reached through
        ``[pulumi] cli_path``).
    """

    name: str
    header: str
    cli: str | None = None
    log: Path | None = None
    command: Any = field(default=None, compare=False, repr=False)

    @property
    def real(self) -> bool:
        return self.name == "real"

    def calls(self, backend: Path) -> list[EngineCall]:
        """Every CLI call the tasks made, in order.

        :param backend: the ``file://`` backend folder (the in-process stand-in journals there).
        """
        if self.log is None:
            journal = backend / ".pulumi" / "standin-journal.jsonl"
            return [EngineCall(tuple(entry["argv"]), frozenset(entry.get("env_names", ())))
                    for entry in read_journal(str(journal))]
        if not self.log.exists():
            return []
        calls = []
        for line in self.log.read_text().split("\n")[:-1]:  # not splitlines(): it also splits at \x1e
            args, _, names = line.partition(_ENV_SEP)
            calls.append(EngineCall(tuple(args.split(_ARG_SEP)) if args else (),
                                    frozenset(n for n in names.split(_ARG_SEP) if n)))
        return calls

    def invocations(self, backend: Path) -> list[list[str]]:
        """Every CLI call's arguments (after ``pulumi``), in order.

        :param backend: the ``file://`` backend folder.
        """
        return [list(call.argv) for call in self.calls(backend)]


def engine_kit(name: str, folder: Path, monkeypatch: pytest.MonkeyPatch, *, alone: bool = False) -> EngineKit:
    """Set up engine ``name`` for the DAG runs that follow (PATH, ``[pulumi]`` options) and describe it.

    :param name: one of :data:`ENGINES`.
    :param folder: where its executables and logs go.
    :param monkeypatch: undoes the environment changes after the test.
    :param alone: run the real CLI from a folder of its own, without the plugins installed beside it.
    :raises ValueError: for an unknown engine name.
    """
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; use one of {', '.join(ENGINES)}")
    if name == "standin":
        from airflow_pulumi_decorators.testing.standin import StandinCommand

        monkeypatch.delenv("AIRFLOW__PULUMI__CLI_PATH", raising=False)
        return EngineKit(name, PREAMBLE + "ENGINE = StandinCommand()\n", command=StandinCommand())
    if name == "standin-exe":
        from airflow_pulumi_decorators.testing.standin import install_shim

        target = install_shim(str(folder / "standin-shim"))
        monkeypatch.setenv("AIRFLOW__PULUMI__PLUGINS", "none")  # it runs none, so installs none either
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
        # Pulumi would try to download plugins for the provider SDKs installed here (no network in tests).
        monkeypatch.setenv("AIRFLOW__PULUMI__PLUGINS", "none")
        monkeypatch.setenv("PULUMI_SKIP_UPDATE_CHECK", "true")
    script, log = recording_wrapper(target, folder / f"{name}-bin")
    monkeypatch.setenv("AIRFLOW__PULUMI__CLI_PATH", str(script))
    return EngineKit(name, PREAMBLE + "ENGINE = None\n", cli=str(script), log=log)
