"""The scenarios' DAG runs, launched together so they overlap (the machine runs them in parallel), and what a
test reads back: the shared backend (``file://`` folder or ``gs://`` bucket), task logs, leftovers.

:class:`Launch` triggers every scenario but the worker kill at once; the existing-stack scenario needs an order
(a seed run, a holder, then the contenders while the holder has the lock), so a thread of its own walks it.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.distributed.harness import FINISHED, Cluster

SCENARIOS = ("fanout", "mapped", "newstack", "existing_hold", "existing_wait", "existing_nowait", "chain", "kill",
             "secretref")
NEW_STACK_RUNS = 4
#: Runs on the existing stack once the holder has its lock: two that wait, two that do not.
CONTENDERS = {"existing_wait": 2, "existing_nowait": 2}
#: The worker host whose ``pulumi`` connection has no passphrase (the secret-output scenario's error path).
NO_PASSPHRASE = "worker-c"
_HOME_LINE = re.compile(r"PULUMI_HOME=(/[^\s\"']+) \(per task")


def engines_of(cluster: Cluster) -> list[str]:
    return ["standin", "real"] if cluster.real_cli else ["standin"]


def ALL_DAG_IDS(cluster: Cluster) -> list[str]:  # noqa: N802 - reads as the constant it stands for
    return [f"{name}__{engine}" for name in SCENARIOS for engine in engines_of(cluster)]


def run_id(label: str) -> str:
    return f"{label}_{uuid.uuid4().hex[:8]}"


class Backend:
    """The shared backend a scenario's stacks live in: the ``file://`` folder, or the ``gs://`` bucket."""

    def __init__(self, cluster: Cluster, kind: str = "file") -> None:
        self.cluster, self.kind = cluster, kind

    def _names(self, sub: str) -> list[str]:
        """Paths below ``.pulumi/<sub>/``, relative to it."""
        if self.kind == "file":
            root = self.cluster.state / ".pulumi" / sub
            return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        prefix = f"airflow/.pulumi/{sub}/"
        return sorted(n[len(prefix):] for n in self.cluster.gcs.object_names(self.cluster.gcs_bucket)
                      if n.startswith(prefix))

    def _read(self, sub: str, name: str) -> Any:
        if self.kind == "file":
            return json.loads((self.cluster.state / ".pulumi" / sub / name).read_text())
        return json.loads(self.cluster.gcs.read(self.cluster.gcs_bucket, f"airflow/.pulumi/{sub}/{name}"))

    def state(self, project: str, stack: str) -> dict[str, Any]:
        return self._read("stacks", f"{project}/{stack}.json")  # type: ignore[no-any-return]

    def stacks(self, project: str) -> list[str]:
        return [n[len(project) + 1:-len(".json")] for n in self._names("stacks")
                if n.startswith(project + "/") and n.endswith(".json")]

    def outputs(self, project: str, stack: str) -> dict[str, Any]:
        latest = self.state(project, stack)["checkpoint"]["latest"]
        root = [r for r in latest["resources"] if r["type"] == "pulumi:pulumi:Stack"]
        return dict(root[0].get("outputs") or {})

    def resources(self, project: str, stack: str) -> list[str]:
        latest = self.state(project, stack)["checkpoint"]["latest"]
        return sorted(r["urn"].rsplit("::", 1)[-1] for r in latest["resources"]
                      if r["type"] != "pulumi:pulumi:Stack" and not r["type"].startswith("pulumi:providers:"))

    def history(self, project: str, stack: str) -> list[dict[str, Any]]:
        """The stack's updates, oldest first."""
        names = [n for n in self._names("history") if n.startswith(f"{project}/{stack}/")
                 and n.endswith(".history.json")]
        return sorted((self._read("history", n) for n in names), key=lambda h: h.get("startTime", 0))

    def locks(self, project: str) -> list[str]:
        return [n for n in self._names("locks") if f"/{project}/" in f"/{n}"]

    def notes(self, project: str) -> list[str]:
        if self.kind != "file":  # holder notes are written next to file:// state only
            return []
        return [n for n in self._names("airflow-holders") if n.startswith(project + "/")]

    def pending(self, project: str, stack: str) -> list[Any]:
        try:
            return list(self.state(project, stack)["checkpoint"]["latest"].get("pending_operations") or [])
        except (OSError, KeyError, ValueError):
            return []


def events(log: str, *words: str) -> str:
    """The messages of a task log (JSON lines) that contain every one of ``words``, one a line."""
    found = []
    for line in log.splitlines():
        try:
            event = str(json.loads(line).get("event", ""))
        except ValueError:
            event = line
        if all(word in event for word in words):
            found.append(event)
    return "\n".join(found)


def assert_nothing_left(cluster: Cluster, backend: Backend, project: str, logs: list[str]) -> None:
    """No lock or holder note of the project in the backend, and the per-task PULUMI_HOME each task log names
    is gone from its worker."""
    assert not backend.locks(project), f"locks left: {backend.locks(project)}"
    assert not backend.notes(project), f"holder notes left: {backend.notes(project)}"
    homes = [home for log in logs for home in _HOME_LINE.findall(log)]
    assert homes, "no task log names its PULUMI_HOME"
    left = [home for home in homes if Path(home).exists()]
    assert not left, f"per-task PULUMI_HOMEs left: {left}"


@dataclass
class Launch:
    """The runs of every scenario but the kill, per engine, triggered together."""

    cluster: Cluster
    began: float = field(default_factory=time.time)
    runs: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    existing: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, wanted: set[tuple[str, str]] | None = None) -> Launch:
        """Trigger the runs of the ``(scenario, engine)`` pairs in ``wanted`` (default: all)."""
        for engine in engines_of(self.cluster):
            def want(name: str, engine: str = engine) -> bool:
                return wanted is None or (name, engine) in wanted

            # First the runs that must overlap: they are queued before the fan-out's sixteen tasks.
            for _ in range(NEW_STACK_RUNS if want("newstack") else 0):
                self._trigger("newstack", engine)
            if want("existing"):
                thread = threading.Thread(target=self._existing, args=(engine,), name=f"existing-{engine}",
                                          daemon=True)
                self.threads.append(thread)
                thread.start()
        if wanted is None or any(name == "secretref" for name, _ in wanted):
            # Only its own queue: no other scenario's task may land on a worker without the passphrase.
            self.cluster.start_worker(NO_PASSPHRASE, ("nopass",), passphrase=False)
        for engine in engines_of(self.cluster):
            for name in ("secretref", "chain", "mapped", "fanout"):
                if wanted is None or (name, engine) in wanted:
                    self._trigger(name, engine)
        return self

    def _trigger(self, name: str, engine: str) -> tuple[str, str]:
        dag_id = f"{name}__{engine}"
        made = (dag_id, self.cluster.trigger(dag_id, run_id(name)))
        self.runs.setdefault(dag_id, []).append(made)
        return made

    def _existing(self, engine: str) -> None:
        """Seed the stack, start the holder, and once it holds the lock, the contenders."""
        record: dict[str, Any] = self.existing.setdefault(engine, {})
        try:
            seed = ("existing_wait__" + engine, self.cluster.trigger("existing_wait__" + engine, run_id("seed")))
            record["seed"] = seed
            self.cluster.wait_runs([seed], 300)
            hold = self._trigger("existing_hold", engine)
            record["hold"] = hold
            backend = Backend(self.cluster)
            project = f"existing_{engine}"
            deadline = time.monotonic() + 180
            while not (backend.locks(project) and backend.notes(project)):
                assert time.monotonic() < deadline, "the holder never took the lock"
                time.sleep(0.1)
            for name, count in CONTENDERS.items():
                record[name] = [self._trigger(name, engine) for _ in range(count)]
            # The holder keeps the lock until every contender has met it: those without lock_wait have failed,
            # those with it are waiting.
            deadline = time.monotonic() + 300
            while not (all(self.cluster.run_state(*r) in FINISHED for r in record["existing_nowait"])
                       and all("retrying in" in self.cluster.task_log(*r, "app") for r in record["existing_wait"])):
                assert time.monotonic() < deadline, "the contenders never met the holder's lock"
                time.sleep(0.5)
        except BaseException as exc:  # noqa: BLE001 - reported by the test that reads it
            record["error"] = exc
        finally:
            (self.cluster.signals / f"existing_{engine}.release").touch()  # never leave the holder waiting

    def wait_existing(self, engine: str, timeout: float) -> dict[str, Any]:
        for thread in self.threads:
            if thread.name == f"existing-{engine}":
                thread.join(timeout)
        record = self.existing[engine]
        if "error" in record:
            raise AssertionError(f"the existing-stack runs could not be started: {record['error']!r}")
        return record
