"""What the engine's output and event stream say while an operation runs: each line for the task log,
the steps that change something, policy violations, the summary (change counts, duration), the root stack's
outputs as the CLI masks them, pending operations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow_pulumi_decorators.engine.diffs import step_diff
from airflow_pulumi_decorators.engine.request import NO_CHANGE_OPS

#: The type of the root resource, whose outputs are the stack outputs.
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
#: Text Pulumi prints for each operation a killed update left in flight (one line each, after its
#: "Attempting to deploy or update resources with N pending operations" line).
PENDING_MARKERS = ("interrupted while creating", "interrupted while updating", "interrupted while deleting")
#: How the engine starts a diagnostic line (after its indentation), and the log level it gets in the task log.
DIAGNOSTIC_LEVELS = (("error:", "error"), ("warning:", "warning"))
#: The engine's sub-steps of a replacement: the ``replace`` step stands for them (one step per resource, as
#: the change counts have it).
REPLACE_PARTS = frozenset({"create-replacement", "delete-replaced", "discard-replaced"})


def line_level(text: str) -> str:
    """The task-log level of one line the engine printed: ``error`` or ``warning`` for its diagnostics
    (``error: update failed``, a resource's indented ``warning: ...`` under ``Diagnostics:``), else ``info``.

    Airflow's log view filters by level, so an engine warning logged at INFO could not be found by it.

    :param text: the line (color is off: Automation API runs use ``color="never"``).
    """
    stripped = text.lstrip()
    for prefix, level in DIAGNOSTIC_LEVELS:
        if stripped.startswith(prefix):
            return level
    return "info"


class Observer:
    """Collects what the engine's event stream and output say: steps, violations, pending operations.

    :param on_output: receives each line the engine prints.
    """

    def __init__(self, on_output: Callable[[str], None]) -> None:
        self.on_output = on_output
        self.steps: list[dict[str, Any]] = []
        self._seen: set[tuple[str, str]] = set()
        self._refreshing: set[str] = set()
        self.violations: list[dict[str, str]] = []
        self.pending: list[str] = []
        self.summary_changes: dict[str, int] | None = None
        self.summary_duration: float | None = None
        #: The stack outputs the update registered, secrets blinded; ``None`` until it registers them.
        self.root_outputs: dict[str, Any] | None = None

    def line(self, text: str) -> None:
        lowered = text.lower()
        if any(marker in lowered for marker in PENDING_MARKERS):
            self.pending.append(text.strip())
        self.on_output(text)

    def event(self, event: Any) -> None:
        # A step is announced before it runs; a refresh is announced as `refresh` and only its outputs
        # event says what it found (`update`, `delete`), so both events are read, once per urn and op.
        for kind in ("resource_pre_event", "res_outputs_event"):
            step = getattr(event, kind, None)
            if step is not None and step.metadata is not None:
                self._step(step.metadata, outputs_event=kind == "res_outputs_event")
        outputs = getattr(event, "res_outputs_event", None)
        if outputs is not None and outputs.metadata is not None and not outputs.planning:
            self._root_outputs(outputs.metadata)
        policy = getattr(event, "policy_event", None)
        if policy is not None:
            self.violations.append(
                {
                    "policy_pack": policy.policy_pack_name,
                    "policy": policy.policy_name,
                    "level": policy.enforcement_level,
                    "urn": policy.resource_urn or "",
                    "message": (policy.message or "").strip(),
                }
            )
        summary = getattr(event, "summary_event", None)
        if summary is not None:
            changes = getattr(summary, "resource_changes", None) or {}
            self.summary_changes = {str(getattr(op, "value", op)): int(n) for op, n in changes.items()}
            self.summary_duration = float(getattr(summary, "duration_seconds", 0) or 0)

    def _root_outputs(self, meta: Any) -> None:
        # The root stack's outputs event follows RegisterResourceOutputs: the last one has the exports.
        new = meta.new
        if meta.type == ROOT_STACK_TYPE and new is not None and not new.parent and isinstance(new.outputs, dict):
            self.root_outputs = dict(new.outputs)

    def _step(self, meta: Any, *, outputs_event: bool = False) -> None:
        op = str(getattr(meta.op, "value", meta.op))
        refreshed = outputs_event and meta.urn in self._refreshing
        if outputs_event:
            self._refreshing.discard(meta.urn)
        elif op == "refresh":
            self._refreshing.add(meta.urn)  # its outputs event says what the refresh found in the cloud
        # Default providers are steps of a real engine too, but no change anyone counts.
        if op in NO_CHANGE_OPS or op in REPLACE_PARTS or meta.type.startswith("pulumi:providers:"):
            return
        if (meta.urn, op) in self._seen:
            return
        self._seen.add((meta.urn, op))
        step: dict[str, Any] = {"op": op, "urn": meta.urn, "type": meta.type, "name": meta.urn.rsplit("::", 1)[-1]}
        step.update(step_diff(meta, refreshed=refreshed))
        self.steps.append(step)

    @property
    def mandatory_violations(self) -> list[dict[str, str]]:
        return [v for v in self.violations if v["level"] == "mandatory"]

    @property
    def advisory_violations(self) -> list[dict[str, str]]:
        return [v for v in self.violations if v["level"] != "mandatory"]


def pending_warning(stack: str, pending: list[str]) -> str:
    """The warning for operations a hard-killed previous update left in flight, with the recovery."""
    listed = "\n  ".join(pending[:20])
    return (
        f"pulumi: the previous update of stack {stack!r} was killed while operations were in flight:\n  {listed}\n"
        "These resources may or may not exist, and Pulumi keeps the pending creates in the state (and this "
        "warning) until a refresh drops them. Check the cloud, then set clear_pending_creates=True on this task for "
        "its next run (it refreshes, dropping the pending creates, then updates), or run operation='refresh' with "
        "clear_pending_creates=True."
    )
