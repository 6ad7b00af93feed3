"""Run a DAG (or one task and what it needs) with ``dag.test()`` and read back what happened.

A :class:`DagRunner` runs on one engine (:class:`~airflow_pulumi_decorators.testing.engines.EngineKit`)
against one state folder (:class:`StateDir`) and returns a :class:`DagRunResult`: the run's state, task
states, XComs, rendered fields, everything printed, the resources registered in the stack state, the CLI
calls the tasks made and the names of the environment variables the engine saw.

Needs a migrated Airflow home (the ``apd_airflow_home`` fixture); Airflow is imported when a DAG runs.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import os
import re
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_pulumi_decorators.operations import OPERATIONS
from airflow_pulumi_decorators.testing.engines import EngineCall, EngineKit
from airflow_pulumi_decorators.testing.standin.journal import read_journal

if TYPE_CHECKING:
    from airflow.sdk import DAG

#: The passphrase :class:`StateDir` sets for stacks' secrets in tests.
PASSPHRASE = "integration-passphrase-6f1c"


@dataclass(frozen=True)
class StackResource:
    """A resource as the stack state records it.

    :param urn: its URN.
    :param type: its type token, e.g. ``gcp:storage/bucket:Bucket``.
    :param id: the id the provider gave it (``""`` for component resources).
    :param inputs: its inputs (secret values stay encrypted).
    :param outputs: its outputs (secret values stay encrypted).
    :param parent: the parent's URN.
    """

    urn: str
    type: str
    id: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    parent: str | None = None

    @property
    def name(self) -> str:
        """The resource name the program gave it."""
        return self.urn.rsplit("::", 1)[-1]


@dataclass(frozen=True)
class StateDir:
    """A ``file://`` Pulumi backend folder, read the way the engines write it.

    :param path: the folder.
    """

    path: Path

    @property
    def url(self) -> str:
        """``file://<path>``, for ``PULUMI_BACKEND_URL``."""
        return f"file://{self.path}"

    @property
    def journal_path(self) -> Path:
        """Where the stand-in engine journals its calls."""
        return self.path / ".pulumi" / "standin-journal.jsonl"

    def journal(self) -> list[dict[str, Any]]:
        """The stand-in's journal: one record per CLI call (``argv`` redacted, ``env_names``, ``code`` ...)."""
        return read_journal(str(self.journal_path))

    def stacks(self) -> list[tuple[str, str]]:
        """Every ``(project, stack)`` with a state file, sorted."""
        root = self.path / ".pulumi" / "stacks"
        return sorted((p.parent.name, p.name[: -len(".json")]) for p in root.glob("*/*.json")) if root.is_dir() else []

    def checkpoint(self, project: str, stack: str = "dev") -> dict[str, Any]:
        """The stack's state file, parsed.

        :raises FileNotFoundError: if the stack has no state here.
        """
        state: dict[str, Any] = json.loads((self.path / ".pulumi" / "stacks" / project / f"{stack}.json").read_text())
        return state

    def resources(
        self, project: str | None = None, stack: str | None = None, *, type: str | None = None
    ) -> list[StackResource]:
        """The program's resources in the state (the stack itself and provider resources left out).

        :param project: only this project's stacks.
        :param stack: only stacks of this name.
        :param type: only resources of this type token.
        """
        found = []
        for proj, name in self.stacks():
            if (project is not None and proj != project) or (stack is not None and name != stack):
                continue
            latest = self.checkpoint(proj, name).get("checkpoint", {}).get("latest") or {}
            for raw in latest.get("resources") or []:
                kind = raw.get("type", "")
                if kind == "pulumi:pulumi:Stack" or kind.startswith("pulumi:providers:"):
                    continue
                if type is not None and kind != type:
                    continue
                found.append(StackResource(raw["urn"], kind, raw.get("id") or "", raw.get("inputs") or {},
                                           raw.get("outputs") or {}, raw.get("parent")))
        return found

    def stack_outputs(self, project: str, stack: str = "dev") -> dict[str, Any]:
        """The stack's outputs as stored (secret values stay encrypted)."""
        latest = self.checkpoint(project, stack).get("checkpoint", {}).get("latest") or {}
        for raw in latest.get("resources") or []:
            if raw.get("type") == "pulumi:pulumi:Stack":
                return raw.get("outputs") or {}
        return {}


@dataclass
class DagRunResult:
    """What one ``dag.test()`` run did.

    :param state: the DAG run's state (``success``, ``failed``).
    :param task_states: task id → state.
    :param xcoms: task id → key → value.
    :param output: everything printed during the run (the task logs).
    :param backend: the state folder.
    :param rendered: task id → rendered template fields.
    :param calls: the CLI calls the tasks made, in order.
    """

    state: str
    task_states: dict[str, str]
    xcoms: dict[str, dict[str, Any]]
    output: str
    backend: Path
    rendered: dict[str, Any] = field(default_factory=dict)
    calls: list[EngineCall] = field(default_factory=list)

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        """One XCom value; a ``@pulumi_stack`` task's ``return_value`` is its stack outputs."""
        return self.xcoms[task_id][key]

    def resources(
        self, project: str | None = None, stack: str | None = None, *, type: str | None = None
    ) -> list[StackResource]:
        """The resources in the stack state after the run (see :meth:`StateDir.resources`)."""
        return StateDir(self.backend).resources(project, stack, type=type)

    @property
    def operations(self) -> list[str]:
        """The deployment operations the tasks ran (``preview``, ``up``, ``refresh``, ``destroy``), in order."""
        return [call.command for call in self.calls if call.command in OPERATIONS]

    @property
    def env_names(self) -> frozenset[str]:
        """The names of every environment variable an engine call was started with (never the values)."""
        return frozenset().union(*(call.env_names for call in self.calls)) if self.calls else frozenset()


class DagRunner:
    """Runs DAGs with ``dag.test()`` on one engine, against one state folder.

    :param engine: the engine (:func:`~airflow_pulumi_decorators.testing.engines.engine_kit`); ``None``
        runs each task on the engine it names (``pulumi_command``, ``cli_path``, ``[pulumi] cli_path``) and
        reads the calls from the stand-in's journal in the state folder.
    :param state: the ``file://`` backend the tasks use (``PULUMI_BACKEND_URL`` must point at it).
    :param capture: returns what was printed since it was last called, as ``(out, err)`` (pytest's
        ``capfd.readouterr``); ``None`` leaves the output uncaptured (``output`` is then empty).
    """

    def __init__(
        self,
        engine: EngineKit | None,
        state: StateDir,
        capture: Callable[[], tuple[str, str]] | None = None,
    ) -> None:
        self.engine = engine if engine is not None else EngineKit("as-named", "")
        self.state = state
        self.capture = capture

    # -- what to run ------------------------------------------------------------------------------

    def run(self, dag: DAG, *, run_conf: dict[str, Any] | None = None) -> DagRunResult:
        """Run the whole DAG.

        :param dag: the DAG object (imported from your DAG file, or built in the test).
        :param run_conf: the run's ``conf`` (``params`` overrides).
        """
        return self._test(dag, run_conf)

    def run_task(
        self, dag: DAG, task_id: str, *, upstream: bool = True, run_conf: dict[str, Any] | None = None
    ) -> DagRunResult:
        """Run one task of the DAG, with the tasks it depends on (their XComs feed it) unless told not to.

        The other tasks are marked successful without running (``dag.test(mark_success_pattern=...)``)
        and left out of the result.

        :param dag: the DAG object.
        :param task_id: the task to run.
        :param upstream: also run its upstream tasks; without them, the XComs it pulls are missing.
        :param run_conf: the run's ``conf``.
        :raises KeyError: if the DAG has no such task.
        """
        if task_id not in dag.task_dict:
            raise KeyError(f"DAG {dag.dag_id!r} has no task {task_id!r}; its tasks: {', '.join(sorted(dag.task_dict))}")
        selected = {task_id}
        if upstream:
            selected |= set(dag.task_dict[task_id].get_flat_relative_ids(upstream=True))
        result = self._test(dag, run_conf, skip=sorted(set(dag.task_dict) - selected))
        result.task_states = {k: v for k, v in result.task_states.items() if k in selected}
        result.xcoms = {k: v for k, v in result.xcoms.items() if k in selected}
        result.rendered = {k: v for k, v in result.rendered.items() if k in selected}
        return result

    def run_file(
        self, path: str | os.PathLike[str], *, dag_id: str | None = None, run_conf: dict[str, Any] | None = None
    ) -> DagRunResult:
        """Import a DAG file and run its DAG.

        :param path: the DAG file.
        :param dag_id: which DAG, when the file defines several.
        :param run_conf: the run's ``conf``.
        """
        with _imported(Path(path)) as module:
            return self._test(find_dag(module, dag_id), run_conf)

    def run_source(
        self, source: str, *, run_conf: dict[str, Any] | None = None, dag_id: str | None = None
    ) -> DagRunResult:
        """Write ``source`` into the dags folder as ``<dag_id>.py``, run its DAG, and remove the file again.

        The file is removed after the run, whatever happened: ``dag.test()`` parses the whole dags folder
        on every call, so files left behind would make each later run slower.

        :param source: a DAG file's text; ``{dag_id}`` in it is replaced by ``dag_id``.
        :param run_conf: the run's ``conf``.
        :param dag_id: the DAG id (default a unique one).
        :raises FileExistsError: if the dags folder already holds ``<dag_id>.py`` (it would be overwritten,
            then removed); run such a file with :meth:`run_file`.
        """
        dag_id = dag_id or f"t_{uuid.uuid4().hex[:10]}"
        path = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{dag_id}.py"
        try:  # never over someone's own DAG file: it would be removed after the run
            created = path.open("x", encoding="utf-8")
        except FileExistsError:
            raise FileExistsError(
                f"{path} exists already; run_source writes its own file there and removes it after the run: "
                "pass another dag_id, or run that file with run_file()"
            ) from None
        with created:
            created.write(textwrap.dedent(source).replace("{dag_id}", dag_id))
        try:
            with _imported(path, dag_id) as module:
                return self._test(find_dag(module, dag_id), run_conf)
        finally:
            _remove_dag_file(path)

    # -- how ----------------------------------------------------------------------------------------

    def _test(self, dag: DAG, run_conf: dict[str, Any] | None, skip: Sequence[str] = ()) -> DagRunResult:
        _register_outside_dags_folder(dag)
        backend = _backend_folder(self.state.path)
        before = len(self.engine.calls(backend))
        _rebind_closed_log_streams()
        if self.capture is not None:
            self.capture()
        out = err = ""
        try:
            with _engine_for(dag, self.engine.command):
                pattern = "|".join(re.escape(task) for task in skip) or None
                run = dag.test(run_conf=run_conf, mark_success_pattern=pattern)
        finally:
            if self.capture is not None:
                out, err = self.capture()
        assert "--- Logging error ---" not in out + err, "log records were lost"
        states, xcoms, rendered = _read_run(dag.dag_id, run.run_id)
        return DagRunResult(
            state=str(getattr(run.state, "value", run.state)),
            task_states=states,
            xcoms=xcoms,
            output=out + err,
            backend=backend,
            rendered=rendered,
            calls=self.engine.calls(backend)[before:],
        )


def find_dag(module: Any, dag_id: str | None = None) -> DAG:
    """The DAG a module defines at top level.

    :param module: the imported DAG file.
    :param dag_id: which DAG, when it defines several.
    :raises LookupError: if it defines no (such) DAG, or several and ``dag_id`` is not given.
    """
    from airflow.sdk import DAG

    dags = [v for v in vars(module).values() if isinstance(v, DAG) and (dag_id is None or v.dag_id == dag_id)]
    if len(dags) != 1:
        wanted = f"DAG {dag_id!r}" if dag_id else "exactly one DAG (pass dag_id=)"
        raise LookupError(f"{module.__file__} defines {len(dags)} matching DAGs; expected {wanted}")
    return dags[0]


@contextmanager
def _imported(path: Path, name: str | None = None) -> Iterator[Any]:
    """Import a DAG file as a module that stays in ``sys.modules`` while the block runs (what its tasks
    pickle refers to it by name)."""
    name = name or f"apd_dag_{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(name, None)


@contextmanager
def _engine_for(dag: DAG, command: Any) -> Iterator[None]:
    """Give every ``@pulumi_stack`` task that names no ``pulumi_command`` the in-process engine, for one run."""
    if command is None:
        yield
        return
    from airflow_pulumi_decorators.operator import PulumiStackOperator

    changed: list[Callable[[], None]] = []
    for task in dag.task_dict.values():
        if isinstance(task, PulumiStackOperator) and task.pulumi_command is None:
            task.pulumi_command = command
            changed.append(functools.partial(setattr, task, "pulumi_command", None))
        partial = getattr(task, "partial_kwargs", None)  # a mapped task
        operator_class = getattr(task, "operator_class", None)
        if (isinstance(partial, dict) and isinstance(operator_class, type)
                and issubclass(operator_class, PulumiStackOperator) and partial.get("pulumi_command") is None):
            had = "pulumi_command" in partial
            partial["pulumi_command"] = command
            changed.append(functools.partial(_restore_partial_command, partial, had))
    try:
        yield
    finally:
        for undo in changed:
            undo()


def _restore_partial_command(partial: dict[str, Any], had: bool) -> None:
    if had:
        partial["pulumi_command"] = None
    else:
        partial.pop("pulumi_command")


def _remove_dag_file(path: Path) -> None:
    """Remove a DAG file and the bytecode its imports (ours and the dags-folder parse) left beside it."""
    path.unlink(missing_ok=True)
    for cached in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
        cached.unlink(missing_ok=True)


def _register_outside_dags_folder(dag: DAG) -> None:
    """Record a DAG whose file is not in the dags folder in the metadata database, as parsing would.

    ``dag.test()`` finds the DAG's version by parsing the dags folder; a DAG imported from elsewhere (your
    project's DAG files, a test module) would have none.
    """
    folder = Path(os.environ.get("AIRFLOW__CORE__DAGS_FOLDER", "")).resolve()
    fileloc = Path(dag.fileloc).resolve() if dag.fileloc else None
    if fileloc is not None and folder in fileloc.parents:
        return
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()  # the bundle row the DAG row refers to
    bag = DagBag(dag_folder=str(folder), collect_dags=False)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)


def _read_run(dag_id: str, run_id: str) -> tuple[dict[str, str], dict[str, dict[str, Any]], dict[str, Any]]:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        xcoms: dict[str, dict[str, Any]] = {}
        for row in session.query(XComModel).filter(XComModel.dag_id == dag_id, XComModel.run_id == run_id):
            xcoms.setdefault(row.task_id, {})[row.key] = row.value
        tis = session.query(TaskInstance).filter(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        states = {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in tis}
        rendered = {
            r.task_id: r.rendered_fields
            for r in session.query(RenderedTaskInstanceFields).filter(
                RenderedTaskInstanceFields.dag_id == dag_id, RenderedTaskInstanceFields.run_id == run_id
            )
        }
    return states, xcoms, rendered


def _backend_folder(default: Path) -> Path:
    """The ``file://`` backend the run used: a test may point ``PULUMI_BACKEND_URL`` elsewhere."""
    url = os.environ.get("PULUMI_BACKEND_URL", "")
    return Path(url[len("file://"):]) if url.startswith("file://") else default


def _rebind_closed_log_streams() -> None:
    """Point stdlib log handlers at the current ``sys.stderr`` when their stream was closed.

    The first ``dag.test()`` of a session attaches handlers to the stream that test's capture owned;
    once that capture is closed, later records would be dropped ("--- Logging error ---") and leak
    searches over the output would see less than the task logged.
    """
    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            stream = getattr(handler, "stream", None)
            if isinstance(handler, logging.StreamHandler) and getattr(stream, "closed", False):
                handler.acquire()  # not setStream(): it would flush the closed stream first
                try:
                    handler.stream = sys.stderr
                finally:
                    handler.release()


def all_text_under(*roots: Path) -> str:
    """Every readable file below ``roots`` as one string, for leak searches."""
    chunks = []
    for root in roots:
        for dirpath, _, files in os.walk(root):
            for name in files:
                try:
                    chunks.append(Path(dirpath, name).read_text(errors="replace"))
                except OSError:
                    continue
    return "\n".join(chunks)
