"""Deployment operations: up, preview, refresh and destroy.

``up``/``preview`` run the caller's inline program through its LanguageServer
(``--client``) against our ResourceMonitor/Engine gRPC servers (see
:mod:`.monitor`); steps are computed by comparing registrations with the
previous checkpoint by URN. Nothing outside the backend directory is touched.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from . import props
from .computed import Computed, compute
from .config import StackConfig, config_string
from .constants import (
    BANNER,
    ENV_DELAY,
    ENV_DRIFT,
    EXIT_CANCELLED,
    EXIT_ERROR,
    EXIT_NO_CHANGES,
    POLICY_FILE,
    ROOT_STACK_TYPE,
    STANDIN_VERSION,
    UNKNOWN,
)
from .context import Invocation
from .dynamic import DynamicProviders, Plan, is_dynamic
from .events import EventLog, step_metadata
from .secrets import PassphraseCipher
from .sink import CancelledError, StandinError
from .stackcmds import require_yes, stack_cipher
from .state import StackRef, iso_now, state_resource

_SYMBOLS = {
    "create": "+",
    "update": "~",
    "delete": "-",
    "same": " ",
    "read": ">",
    "refresh": "~",
}
_DONE_VERB = {
    "create": ("creating", "created", "to create"),
    "update": ("updating", "updated", "to update"),
    "delete": ("deleting", "deleted", "to delete"),
    "read": ("reading", "read", "to read"),
    "refresh": ("refreshing", "refreshed", "to refresh"),
}
# Ops that count as changes for --expect-no-changes.
_CHANGE_OPS = {"create", "update", "delete", "replace"}


@dataclass
class Step:
    """One resource step.

    :param op: OpType value.
    :param urn: Resource URN.
    :param old: Previous in-memory state (or None).
    :param new: New in-memory state (or None).
    """

    op: str
    urn: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    diffs: list[str] = field(default_factory=list)


PROVIDER_TYPE_PREFIX = "pulumi:providers:"
_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$")


def default_provider_name(version: str) -> str:
    """A default provider's name as the engine forms it (``providers.ProviderRequest.DefaultName``): ``default``,
    then ``_<major>_<minor>_<patch>`` and each pre-release and build part when a version was asked for.

    :param version: the package version, or "".
    """
    match = _SEMVER.match(version) if version else None
    if match is None:
        return "default"
    major, minor, patch, pre, build = match.groups()
    parts = [major, minor, patch, *(pre.split(".") if pre else []), *(build.split(".") if build else [])]
    return "default_" + "_".join(parts)


def is_default_provider(urn: str) -> bool:
    """:param urn: a URN. :returns: whether it names a default provider (whose steps are internal)."""
    type_ = urn.split("::")[2] if urn.count("::") >= 3 else ""
    return type_.startswith(PROVIDER_TYPE_PREFIX) and urn_name(urn).startswith("default")


def make_urn(stack: str, project: str, parent_urn: str, type_: str, name: str) -> str:
    """Form a URN the way the Pulumi engine does.

    The parent's qualified type is prefixed (``parent$type``) except when the
    parent is the root stack.

    :param stack: Short stack name.
    :param project: Project name.
    :param parent_urn: Parent URN or "".
    :param type_: Resource type token.
    :param name: Resource name.
    """
    qualified = type_
    if parent_urn:
        parent_type = parent_urn.split("::")[2]
        if parent_type != ROOT_STACK_TYPE:
            qualified = f"{parent_type}${type_}"
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


def urn_type(urn: str) -> str:
    """:param urn: URN. :returns: Its type (the last of its qualified type chain)."""
    return urn.split("::")[2].rsplit("$", 1)[-1] if urn.count("::") >= 3 else ""


def urn_name(urn: str) -> str:
    """:param urn: URN. :returns: Its resource name."""
    return urn.split("::", 3)[3]


def generated_id(urn: str) -> str:
    """Deterministic physical id for a custom resource (``<name>-<hash8>``).

    :param urn: Resource URN.
    """
    return f"{urn_name(urn)}-{hashlib.sha1(urn.encode()).hexdigest()[:8]}"


def masked_meta(res: dict[str, Any] | None) -> dict[str, Any] | None:
    """``StepEventStateMetadata`` of a state entry with secrets blinded, as the CLI writes events.

    :param res: In-memory state entry.
    """
    if res is None:
        return None
    return {
        "type": res["type"],
        "urn": res["urn"],
        "id": res.get("id", ""),
        "parent": res.get("parent", ""),
        "provider": res.get("provider", ""),
        "custom": res.get("custom", False),
        "protect": res.get("protect", False),
        "inputs": props.blind(res.get("inputs", {})),
        "outputs": props.blind(res.get("outputs", {})),
    }


class Deployment:
    """The state of one running operation (shared with the gRPC servicers).

    :param inv: Invocation.
    :param ref: Stack.
    :param kind: ``update``, ``preview``, ``refresh`` or ``destroy``.
    :param dry_run: True for previews (nothing is written).
    :param cipher: Stack cipher.
    :param old_resources: Previous resources, in-memory form.
    :param config: Resolved config: key -> (value, secret).
    :param events: Event log.
    """

    def __init__(
        self,
        inv: Invocation,
        ref: StackRef,
        kind: str,
        dry_run: bool,
        cipher: PassphraseCipher,
        old_resources: list[dict[str, Any]],
        config: dict[str, tuple[Any, bool]],
        events: EventLog,
    ) -> None:
        self.inv = inv
        self.ref = ref
        self.kind = kind
        self.dry_run = dry_run
        self.cipher = cipher
        self.old_resources = old_resources
        self.old_by_urn = {r["urn"]: r for r in old_resources}
        self.config = config
        self.events = events
        self.lock = threading.Lock()
        self.new_resources: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.steps: list[Step] = []
        self.counts: dict[str, int] = {}
        self.diagnostics: list[tuple[str, str, str]] = []
        self.targets = set(inv.args.values("target", "t"))
        self.delay = float(inv.env.get(ENV_DELAY) or 0)
        self.start = time.time()
        self.consumed_old: set[str] = set()
        self.program_failed = False
        self.drifted = {n.strip() for n in (inv.env.get(ENV_DRIFT) or "").split(",") if n.strip()}
        self.policies: list[dict[str, Any]] = []
        self.mandatory_violations = 0
        self.pending_writer: Any = None  # set by run_operation for real (non-preview) updates
        self.dynamic = DynamicProviders(config, ref.project)
        self.default_providers: dict[str, str] = {}  # URN of a default provider -> its reference
        self.refreshed: dict[str, tuple[str, dict[str, Any]]] = {}  # what `--refresh` read: URN -> (id, outputs)
        self.gone: set[str] = set()  # what `--refresh` found deleted out of band

    # ------------------------------------------------------------ helpers
    def out(self, text: str) -> None:
        """:param text: Line(s) for stdout."""
        self.inv.sink.out(text)

    def diagnostic(self, severity: str, message: str, urn: str = "") -> None:
        """Record and emit a diagnostic.

        :param severity: ``info``, ``warning``, ``error`` ...
        :param message: Text.
        :param urn: Resource it is about.
        """
        with self.lock:
            self.diagnostics.append((severity, message, urn))
        self.events.emit(
            "diagnosticEvent",
            {"urn": urn, "prefix": f"{severity}: ", "message": message + "\n",
             "color": "never", "severity": severity},
        )

    def check_cancel(self) -> None:
        """:raises CancelledError: When the operation is being cancelled."""
        if self.inv.cancel.is_set():
            raise CancelledError("update canceled")

    def targeted(self, urn: str, type_: str) -> bool:
        """Whether ``--target`` allows changing this resource.

        :param urn: URN.
        :param type_: Type (the root stack is always in scope).
        """
        return not self.targets or urn in self.targets or type_ == ROOT_STACK_TYPE

    def _pace(self) -> None:
        # PULUMI_STANDIN_DELAY_PER_RESOURCE: stretch each step so tests can interrupt.
        if self.delay > 0:
            end = time.monotonic() + self.delay
            while time.monotonic() < end:
                if self.inv.cancel.wait(min(0.05, max(end - time.monotonic(), 0))):
                    break

    def _announce(self, step: Step, done: bool, elapsed: float = 0.0) -> None:
        res = step.new or step.old or {}
        if step.op == "same":
            return
        symbol = _SYMBOLS.get(step.op, "*")
        ing, ed, to = _DONE_VERB.get(step.op, (step.op, step.op, step.op))
        if self.dry_run:
            if not done:
                self.out(f"    {symbol} {res['type']} {urn_name(step.urn)} {step.op}")
            return
        word = f"{ed} ({elapsed:.2f}s)" if done else ing
        self.out(f"    {symbol} {res['type']} {urn_name(step.urn)} {word}")

    def run_step(self, step: Step, commit: Any, *, announced_as: str | None = None) -> None:
        """Announce, pace, commit and record one step.

        :param step: The step.
        :param commit: Callable applying the step to the new state.
        :param announced_as: the op of the pre-event when it differs from the outcome: a refresh step is
            announced as ``refresh`` and its outputs event carries what it found (``same``, ``update``,
            ``delete``), as the real engine reports it.
        """
        self.check_cancel()
        began = time.monotonic()
        replace = step.op == "replace"  # a replace step's diffs are the keys that force it
        meta = step_metadata(
            step.op, step.urn, (step.new or step.old or {}).get("type", ""),
            masked_meta(step.old), masked_meta(step.new), None if replace else step.diffs,
            keys=step.diffs if replace else None,
        )
        pre = dict(meta, op=announced_as) if announced_as else meta
        self.events.emit("resourcePreEvent", {"metadata": pre, "planning": self.dry_run})
        self._announce(step, done=False)
        if step.op != "same":
            # Like Pulumi, record the in-flight operation first, so a hard kill leaves it visible.
            if self.pending_writer is not None:
                self.pending_writer(step, True)
            self._pace()
        commit()
        if step.op != "same" and self.pending_writer is not None:
            self.pending_writer(step, False)
        with self.lock:
            self.steps.append(step)
            self.counts[step.op] = self.counts.get(step.op, 0) + 1
        # As the engine does: a component's outputs are reported when it registers them (register_outputs).
        if (step.new or step.old or {}).get("custom") or announced_as == "refresh" or step.op == "delete":
            self.events.emit("resOutputsEvent", {"metadata": meta, "planning": self.dry_run})
        self._announce(step, done=True, elapsed=time.monotonic() - began)

    # ------------------------------------------------------- registration
    def default_provider(self, type_: str, version: str = "") -> str:
        """The reference (``urn::id``) of the default provider of a resource type's package, recorded in the state
        as the real engine records it (``pulumi:providers:<package>::default[_<version>]``) before the first
        resource that uses it. Like the engine, its step sends events, but is neither shown nor counted.

        :param type_: the resource's type token (its package is the first part).
        :param version: the package version the SDK asked for, if any.
        """
        package = "pulumi" if type_.startswith("pulumi:pulumi:") else type_.split(":", 1)[0]
        urn = f"urn:pulumi:{self.ref.name}::{self.ref.project}::{PROVIDER_TYPE_PREFIX}{package}::" \
              + default_provider_name(version)
        with self.lock:
            known = self.default_providers.get(urn)
            if known is not None:
                return known
            old = self.old_by_urn.get(urn)
            inputs = self._provider_config(package, version)
            if old is not None and old.get("inputs", {}) == inputs:
                entry = dict(old)
            else:
                entry = {"urn": urn, "custom": True,
                         "id": old["id"] if old else (UNKNOWN if self.dry_run else str(uuid.uuid4())),
                         "type": PROVIDER_TYPE_PREFIX + package, "inputs": inputs, "outputs": inputs,
                         "created": old.get("created", iso_now()) if old else iso_now(), "modified": iso_now()}
            if old is not None:
                self.consumed_old.add(urn)
            self.new_resources[urn] = entry
            self.order.append(urn)
            ref = f"{urn}::{entry['id']}"
            self.default_providers[urn] = ref
        op = "create" if old is None else "same" if old.get("inputs", {}) == entry.get("inputs", {}) else "update"
        self._provider_events(op, urn, old, entry)
        return ref

    def _provider_events(self, op: str, urn: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        """A default provider's step events: the real engine sends them (but neither shows nor counts the step)."""
        type_ = (new or old or {}).get("type", "")
        meta = step_metadata(op, urn, type_, masked_meta(old), masked_meta(new))
        self.events.emit("resourcePreEvent", {"metadata": meta, "planning": self.dry_run})
        self.events.emit("resOutputsEvent", {"metadata": meta, "planning": self.dry_run})

    def refresh_first(self) -> None:
        """``up``/``preview``/``destroy`` with ``--refresh``: read each resource before the operation, as the engine
        does, announcing each as ``refreshing`` (the refresh steps are not counted in the summary). A dynamic
        resource is read through its provider; one deleted out of band leaves the state (an update creates it
        again, a destroy has nothing to delete)."""
        for res in self.old_resources:
            urn = res["urn"]
            if not self.targeted(urn, res["type"]):
                continue
            found, outputs = res.get("id", ""), res.get("outputs") or {}
            if res.get("custom") and is_dynamic(res["type"]) and not res.get("external"):
                found, outputs = self._provider_call(
                    lambda res=res: self.dynamic.read(res.get("id", ""), res.get("inputs", {}),
                                                      res.get("outputs", {})), urn)
                if found:
                    self.refreshed[urn] = (found, outputs)
                else:
                    self.gone.add(urn)
            meta = step_metadata("refresh", urn, res["type"], masked_meta(res),
                                 masked_meta(dict(res, outputs=outputs) if urn not in self.gone else None))
            self.events.emit("resourcePreEvent", {"metadata": meta, "planning": self.dry_run})
            if not is_default_provider(urn):
                self.out(f"    ~ {res['type']} {urn_name(urn)} refreshing")
            self.events.emit("resOutputsEvent", {"metadata": meta, "planning": self.dry_run})
        if self.gone:
            with self.lock:
                self.consumed_old |= self.gone
            self.old_by_urn = {u: r for u, r in self.old_by_urn.items() if u not in self.gone}

    def keep(self, res: dict[str, Any]) -> None:
        """A resource an operation leaves as it is (``destroy --exclude-protected``): a ``same`` step.

        :param res: In-memory state entry.
        """
        urn = res["urn"]

        def commit() -> None:
            with self.lock:
                self.consumed_old.add(urn)
            self._commit(urn, res)

        if is_default_provider(urn):
            commit()
            return
        self.run_step(Step("same", urn, res, res), commit)

    def _provider_config(self, package: str, version: str) -> dict[str, Any]:
        """A default provider's inputs: the stack config of its package (``<package>:<key>``) and its version."""
        inputs: dict[str, Any] = {}
        for key, (value, secret) in self.config.items():
            if key.startswith(package + ":"):
                text = config_string(value)
                inputs[key.split(":", 1)[1]] = props.make_secret(text) if secret else text
        if version:
            inputs["version"] = version
        return inputs

    def register(
        self,
        type_: str,
        name: str,
        parent: str,
        custom: bool,
        inputs: dict[str, Any],
        extra: dict[str, Any],
        alias_urns: list[str],
        additional_secret_outputs: list[str],
        version: str = "",
    ) -> dict[str, Any]:
        """Handle ``RegisterResource``; returns the new in-memory state entry.

        :param type_: Type token.
        :param name: Resource name.
        :param parent: Parent URN.
        :param custom: Custom (provider-managed) resource.
        :param inputs: Normalised inputs.
        :param extra: Other state fields (protect, provider, dependencies ...).
        :param alias_urns: Previous URNs of this resource.
        :param additional_secret_outputs: Output keys to mark secret.
        :param version: The package version the SDK asked for (names its default provider).
        """
        urn = make_urn(self.ref.name, self.ref.project, parent, type_, name)
        if custom and not extra.get("provider") and not type_.startswith(PROVIDER_TYPE_PREFIX):
            extra = dict(extra, provider=self.default_provider(type_, version))
        with self.lock:
            if urn in self.new_resources:
                raise StandinError(
                    f"Duplicate resource URN '{urn}'; try giving it a unique name"
                )
            self.new_resources[urn] = {}  # reserve
        old = self.old_by_urn.get(urn)
        if old is None:
            for alias in alias_urns:
                if alias in self.old_by_urn:
                    old = self.old_by_urn[alias]
                    break
        if old is not None:
            with self.lock:
                self.consumed_old.add(old["urn"])
        entry: dict[str, Any] = {"urn": urn, "custom": custom, "type": type_}
        entry.update(extra)
        if parent:
            entry["parent"] = parent
        if old is not None and extra.get("ignoreChanges"):
            inputs = apply_ignore_changes(inputs, old.get("inputs") or {}, extra["ignoreChanges"])
        entry["inputs"] = inputs
        if not self.targeted(urn, type_):
            if old is not None:
                kept = dict(old)
                kept["urn"] = urn
                step = Step("same", urn, old, kept)
                self.run_step(step, lambda: self._commit(urn, kept))
                return kept
            # An untargeted create is skipped: not recorded, no id.
            with self.lock:
                del self.new_resources[urn]
            skipped = dict(entry, outputs=inputs, id="")
            return skipped
        if custom and is_dynamic(type_):
            return self._register_dynamic(urn, name, type_, old, entry, inputs)
        computed = self._computed(type_, name, urn, inputs) if custom else Computed({})
        outputs = _with_secret_outputs({**inputs, **computed.outputs}, additional_secret_outputs)
        if old is None:
            op = "create"
            if custom:
                entry["id"] = "" if self.dry_run else computed.id or generated_id(urn)
            # A preview leaves what the provider would compute unknown, as a real engine does.
            entry["outputs"] = _with_secret_outputs(inputs, additional_secret_outputs) if self.dry_run else outputs
            entry["created"] = entry["modified"] = iso_now()
        elif old.get("inputs", {}) == inputs and old["urn"] == urn:
            op = "same"
            if custom:
                entry["id"] = old.get("id", "")
            entry["outputs"] = old.get("outputs", {})
            for key in ("created", "modified"):
                if key in old:
                    entry[key] = old[key]
        else:
            op = "update"
            if custom:
                entry["id"] = old.get("id") or computed.id or generated_id(urn)
            entry["outputs"] = outputs
            entry["created"] = old.get("created", iso_now())
            entry["modified"] = iso_now()
        diffs = _diff_keys(old.get("inputs", {}) if old else {}, inputs) if op == "update" else []
        if op == "same" and name in self.drifted and self.inv.args.has("refresh"):
            # --refresh read a cloud that differs from the state: bring it back to the program.
            op, diffs = "update", ["(drifted)"]
        self.check_policies(urn, type_, name, inputs)
        if type_ == ROOT_STACK_TYPE and old is not None:
            # Stack outputs come later through RegisterResourceOutputs.
            entry["outputs"] = old.get("outputs", {})
        step = Step(op, urn, old, entry, diffs)
        self.run_step(step, lambda: self._commit(urn, entry))
        return entry

    def _computed(self, type_: str, name: str, urn: str, inputs: dict[str, Any]) -> Computed:
        """What the resource's provider would add to its inputs (see :mod:`.computed`)."""
        plain = {k: v for k, (v, secret) in self.config.items() if not secret}
        computed = compute(type_, name, urn, props.reveal(inputs), plain)
        hidden = props.secret_plaintexts(inputs)
        outputs = {}
        for key, value in computed.outputs.items():
            text = json.dumps(value)
            if UNKNOWN in text:
                continue  # built from an input a preview does not know yet: unknown too
            # A value built from a secret input (a URL holding a secret name) stays secret.
            outputs[key] = props.make_secret(value) if any(h in text for h in hidden) else value
        return Computed(outputs, computed.id if computed.id and UNKNOWN not in computed.id else None)

    def _register_dynamic(self, urn: str, name: str, type_: str, old: dict[str, Any] | None, entry: dict[str, Any],
                          inputs: dict[str, Any]) -> dict[str, Any]:
        """A dynamic resource: its provider decides the step and does the work, as on a real engine."""
        checked = self._provider_call(lambda: self.dynamic.check(old.get("inputs") if old else None, inputs), urn)
        entry["inputs"] = checked
        old_outputs = dict(old.get("outputs") or {}) if old else {}
        if old is not None and old["urn"] in self.refreshed:  # read by `--refresh` before the program ran
            old_outputs = dict(self.refreshed[old["urn"]][1])
        if old is None:
            plan = Plan("create")
        else:
            plan = self._provider_call(
                lambda: self.dynamic.plan(old.get("id", ""), old.get("inputs", {}), old_outputs, checked), urn)
        self.check_policies(urn, type_, name, checked)
        if plan.op == "same":
            assert old is not None  # only an existing resource plans "same" (or update, replace)
            entry["id"], entry["outputs"] = old.get("id", ""), old_outputs
            for key in ("created", "modified"):
                if key in old:
                    entry[key] = old[key]
        else:
            entry["id"] = old.get("id", "") if old else ""
            entry["outputs"] = checked  # until the provider answers
            entry["created"] = old.get("created", iso_now()) if old and plan.op == "update" else iso_now()
            entry["modified"] = iso_now()

        def commit() -> None:
            if not self.dry_run and plan.op != "same":
                prior: dict[str, Any] = old or {}  # None only for a create, which reads nothing from it
                if plan.op == "update":
                    entry["outputs"] = self._provider_call(
                        lambda: self.dynamic.update(prior["id"], old_outputs, checked), urn)
                else:
                    if plan.op == "replace" and plan.delete_first:
                        self._provider_call(lambda: self.dynamic.delete(prior["id"], old_outputs), urn)
                    entry["id"], entry["outputs"] = self._provider_call(lambda: self.dynamic.create(checked), urn)
                    if plan.op == "replace" and not plan.delete_first:
                        self._provider_call(lambda: self.dynamic.delete(prior["id"], old_outputs), urn)
            self._commit(urn, entry)

        # The real plugin's diff names no changed keys: only a replacement's keys reach the event; after a
        # refresh (--refresh) the step's old state is what the refresh read, as the real engine reports it.
        seen = dict(old, outputs=old_outputs) if old is not None else None
        self.run_step(Step(plan.op, urn, seen, entry, plan.diffs if plan.op == "replace" else []), commit)
        return entry

    @staticmethod
    def _provider_call(call: Any, urn: str) -> Any:
        try:
            return call()
        except StandinError:
            raise
        except Exception as exc:  # noqa: BLE001 - the provider's own error, reported like the engine does
            raise StandinError(f"{urn_name(urn)}: {type(exc).__name__}: {exc}") from exc

    def refresh_resource(self, res: dict[str, Any]) -> None:
        """Refresh one resource: a dynamic one is read back through its provider; others are ``same``
        unless named in ``PULUMI_STANDIN_DRIFT``.

        :param res: In-memory state entry.
        """
        urn = res["urn"]
        if is_default_provider(urn):  # kept as it is; its refresh is neither shown nor counted
            with self.lock:
                self.consumed_old.add(urn)
            self._commit(urn, res)
            self._provider_events("refresh", urn, res, res)
            return
        if res.get("custom") and is_dynamic(res["type"]) and not res.get("external"):
            found, outputs = self._provider_call(
                lambda: self.dynamic.read(res.get("id", ""), res.get("inputs", {}), res.get("outputs", {})), urn)
            if not found:
                self.run_step(Step("delete", urn, res, None), lambda: self.consumed_old.add(urn),
                              announced_as="refresh")
                return
            new = dict(res, id=found, outputs=outputs)
            changed = _diff_keys(res.get("outputs", {}), outputs)
        else:
            new, changed = res, (["(drifted)"] if urn_name(urn) in self.drifted else [])

        def commit() -> None:
            with self.lock:
                self.consumed_old.add(urn)
            self._commit(urn, new)

        self.run_step(Step("update" if changed else "same", urn, res, new, changed), commit, announced_as="refresh")

    def check_policies(self, urn: str, type_: str, name: str, inputs: dict[str, Any]) -> None:
        """Evaluate the ``standin-policy.json`` rules of the ``--policy-pack`` folders on one resource.

        :param urn: URN.
        :param type_: Type token.
        :param name: Resource name.
        :param inputs: Its inputs.
        """
        for rule in self.policies:
            if rule["type"] not in ("*", type_):
                continue
            if any(inputs.get(k) != v for k, v in (rule.get("when") or {}).items()):
                continue
            level = rule["level"]
            self.events.emit("policyEvent", {
                "resourceUrn": urn, "message": rule["message"], "color": "never",
                "policyName": rule["policy"], "policyPackName": rule["pack"],
                "policyPackVersion": "0.0.1", "policyPackVersionTag": "0.0.1", "enforcementLevel": level,
            })
            self.diagnostic(
                "warning" if level == "advisory" else "error",
                f"[{level}] {rule['pack']} v0.0.1 {rule['policy']} ({name}: {type_})\n{rule['message']}",
                urn,
            )
            if level == "mandatory":
                with self.lock:
                    self.mandatory_violations += 1

    def _commit(self, urn: str, entry: dict[str, Any]) -> None:
        with self.lock:
            self.new_resources[urn] = entry
            self.order.append(urn)

    def register_outputs(self, urn: str, outputs: dict[str, Any]) -> None:
        """Handle ``RegisterResourceOutputs`` (stack exports, component outputs).

        :param urn: Resource URN.
        :param outputs: Normalised outputs.
        """
        with self.lock:
            entry = self.new_resources.get(urn)
            if entry:
                entry["outputs"] = outputs
            step = next((s for s in reversed(self.steps) if s.urn == urn), None)
        if entry and step is not None:
            meta = step_metadata(step.op, urn, entry.get("type", ""), masked_meta(step.old), masked_meta(entry))
            self.events.emit("resOutputsEvent", {"metadata": meta, "planning": self.dry_run})

    def read(
        self, type_: str, name: str, parent: str, id_: str, properties: dict[str, Any], extra: dict[str, Any]
    ) -> dict[str, Any]:
        """Handle ``ReadResource`` (external resources, stack references).

        :param type_: Type token.
        :param name: Resource name.
        :param parent: Parent URN.
        :param id_: Physical id to read.
        :param properties: Normalised input properties.
        :param extra: Other state fields.
        """
        urn = make_urn(self.ref.name, self.ref.project, parent, type_, name)
        if not extra.get("provider"):
            extra = dict(extra, provider=self.default_provider(type_))
        if type_ == "pulumi:pulumi:StackReference":
            outputs = self._stack_reference_outputs(id_)
        else:
            outputs = properties
        entry: dict[str, Any] = {"urn": urn, "custom": True, "id": id_, "type": type_,
                                 "external": True, "inputs": properties, "outputs": outputs}
        entry.update(extra)
        if parent:
            entry["parent"] = parent
        old = self.old_by_urn.get(urn)
        if old is not None:
            with self.lock:
                self.consumed_old.add(urn)
        with self.lock:
            if urn in self.new_resources:
                raise StandinError(f"Duplicate resource URN '{urn}'; try giving it a unique name")
            self.new_resources[urn] = {}
        self.run_step(Step("read", urn, old, entry), lambda: self._commit(urn, entry))
        return entry

    def _stack_reference_outputs(self, stack_name: str) -> dict[str, Any]:
        from .stackcmds import root_outputs

        target = self.inv.resolve(stack_name)
        backend = self.inv.backend
        if not backend.exists(target):
            raise StandinError(f"unknown stack \"{stack_name}\"")
        raw = root_outputs(backend.read_checkpoint(target)["checkpoint"]["latest"]["resources"])
        if props.contains_secret(raw):
            raw = props.decrypt_value(raw, stack_cipher(self.inv, target).decrypt)
        secret_names = sorted(k for k, v in raw.items() if props.is_secret(v))
        return {"name": stack_name, "outputs": raw, "secretOutputNames": secret_names}

    def lookup(self, urn: str) -> dict[str, Any] | None:
        """State of a URN registered in this run or in the previous state.

        :param urn: URN.
        """
        with self.lock:
            entry = self.new_resources.get(urn)
        return entry or self.old_by_urn.get(urn)

    # -------------------------------------------------------------- finish
    def delete_unregistered(self) -> None:
        """Delete old resources the program no longer registers (reverse order)."""
        for old in reversed(self.old_resources):
            urn = old["urn"]
            if urn in self.consumed_old or urn in self.new_resources:
                continue
            if not self.targeted(urn, old["type"]):
                continue
            self.delete(old)

    def delete(self, old: dict[str, Any]) -> None:
        """Delete one resource (refusing protected ones).

        :param old: In-memory state entry.
        """
        if is_default_provider(old["urn"]):
            # As on the real engine: its events are sent, but the step is neither shown nor counted.
            with self.lock:
                self.consumed_old.add(old["urn"])
            self._provider_events("delete", old["urn"], old, None)
            return
        if old.get("protect"):
            if self.inv.args.has("exclude-protected"):
                return
            raise StandinError(
                f"unable to delete resource \"{old['urn']}\"\nas it is currently marked "
                "for protection. To unprotect the resource, remove the `protect` flag "
                "from the resource in your Pulumi program and run `pulumi up`"
            )
        # retainOnDelete: the resource leaves the state, but its provider is not asked to delete it.
        dynamic = (old.get("custom") and is_dynamic(old["type"]) and not old.get("external") and not self.dry_run
                   and not old.get("retainOnDelete"))
        self.run_step(
            Step("delete", old["urn"], old, None),
            (lambda: self._provider_call(lambda: self.dynamic.delete(old.get("id", ""), old.get("outputs", {})),
                                         old["urn"])) if dynamic else (lambda: None),
        )
        with self.lock:
            self.consumed_old.add(old["urn"])

    def final_resources(self) -> list[dict[str, Any]]:
        """New checkpoint resources: committed registrations, then surviving old ones."""
        with self.lock:
            result = [self.new_resources[u] for u in self.order if self.new_resources.get(u)]
            seen = {r["urn"] for r in result}
            for old in self.old_resources:
                if old["urn"] not in self.consumed_old and old["urn"] not in seen:
                    result.append(old)
        return result


def apply_ignore_changes(inputs: dict[str, Any], old_inputs: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """New inputs with each ``ignore_changes`` path set back to its old value (or removed when it had none), as
    the engine does before it checks and diffs (``processIgnoreChanges``). Paths are property names, dotted for
    nested objects (``tags.owner``); ``*`` ignores every property.

    :param inputs: the registration's inputs.
    :param old_inputs: the inputs in the state.
    :param paths: the resource's ``ignoreChanges``.
    """
    result: dict[str, Any] = json.loads(json.dumps(inputs))
    for path in paths:
        if path == "*":
            return {**json.loads(json.dumps(old_inputs)), **{k: v for k, v in inputs.items() if k.startswith("__")}}
        keys = path.replace("[\"", ".").replace("\"]", "").split(".")
        old_node: Any = old_inputs
        new_node: Any = result
        for key in keys[:-1]:
            old_node = old_node.get(key) if isinstance(old_node, dict) else None
            if not isinstance(new_node, dict):
                break
            new_node = new_node.setdefault(key, {}) if isinstance(old_node, dict) else new_node.get(key)
        else:
            if isinstance(new_node, dict):
                if isinstance(old_node, dict) and keys[-1] in old_node:
                    new_node[keys[-1]] = old_node[keys[-1]]
                else:
                    new_node.pop(keys[-1], None)
    return result


def _with_secret_outputs(inputs: dict[str, Any], names: list[str]) -> dict[str, Any]:
    if not names:
        return inputs
    outputs = dict(inputs)
    for key in names:
        if key in outputs:
            outputs[key] = props.make_secret(outputs[key])
    return outputs


def _diff_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


# ==================================================================== driver
_HEADERS = {
    "update": ("Updating", "Previewing update"),
    "refresh": ("Refreshing", "Previewing refresh"),
    "destroy": ("Destroying", "Previewing destroy"),
}


def run_operation(inv: Invocation, command: str) -> int:
    """Entry point for ``up``/``preview``/``refresh``/``destroy``.

    :param inv: Invocation.
    :param command: The command word.
    :returns: Exit code.
    """
    args = inv.args
    for flag in ("save-plan", "plan"):
        if args.value(flag) is not None:
            # Refused rather than ignored: an up given a plan would otherwise not be held to it.
            raise StandinError(f"unknown flag: --{flag} (the stand-in engine does not implement update plans; "
                               "strict_plan needs the real pulumi CLI)")
    kind = {"up": "update", "update": "update", "preview": "update"}.get(command, command)
    dry_run = command == "preview" or args.has("preview-only")
    if not dry_run:
        require_yes(inv)
    ref = inv.stack_ref()
    backend = inv.backend
    backend.require(ref)
    cipher = stack_cipher(inv, ref)
    cfg = StackConfig.for_stack(inv.project_dir, ref)
    config = cfg.resolved(cipher if cfg.has_secure() else None)
    lock = backend.acquire_lock(ref)
    events = EventLog(args.value("event-log"), inv.cwd)
    dep: Deployment | None = None
    code = 0
    try:
        checkpoint = backend.read_checkpoint(ref)
        latest = checkpoint["checkpoint"]["latest"]
        old_resources = props.decrypt_value(latest.get("resources") or [], cipher.decrypt)
        for value, secret in config.values():
            if secret:
                inv.sink.secrets_to_mask |= _strings(value)
        for res in old_resources:
            inv.sink.secrets_to_mask |= props.secret_plaintexts(res.get("outputs"))
            inv.sink.secrets_to_mask |= props.secret_plaintexts(res.get("inputs"))
        dep = Deployment(inv, ref, kind, dry_run, cipher, old_resources, config, events)
        # `preview --json` prints one JSON document (config, steps, duration, changeSummary) and nothing else.
        inv.sink.muted = dry_run and args.has("json", "j")
        inv.sink.out(BANNER)
        title = _HEADERS[kind][1 if dry_run else 0]
        inv.sink.out(f"{title} ({ref.name}):")
        inv.sink.out("")
        if args.values("policy-pack"):
            dep.policies = _load_policies(inv, args.values("policy-pack"), args.values("policy-pack-config"))
            if not dep.policies:
                # Be explicit rather than silently "passing" policies we never ran.
                dep.diagnostic("warning", "policy packs are not run by the stand-in engine "
                                          f"(no {POLICY_FILE} in the pack folders)")
        pending = latest.get("pending_operations") or []
        if pending and kind in ("update", "destroy") and not dry_run and not args.has("refresh"):
            # The real engine warns on an up or destroy that does not refresh first (deploymentExecutor).
            dep.diagnostic("warning", _pending_text(pending))
        # Like the real engine, every write keeps the pending creates (they need a person, or a refresh with
        # --clear-pending-creates, which drops them first) and drops the other pending operations.
        kept = [op for op in pending if op.get("type") == "creating"]
        if kind == "refresh" and args.has("clear-pending-creates"):
            kept = []
        if kept:
            latest["pending_operations"] = kept
        else:
            latest.pop("pending_operations", None)
        if not dry_run:
            dep.pending_writer = _pending_writer(backend, ref, checkpoint, cipher, dep)
        events.emit("preludeEvent", {"config": {
            k: ("[secret]" if s else config_string(v)) for k, (v, s) in config.items()
        }})
        error: str | None = None
        protected: set[str] = set()
        try:
            if kind in ("update", "destroy") and args.has("refresh"):
                dep.refresh_first()
            if kind == "update":
                error = _run_program(inv, dep)
                if error is None:
                    dep.delete_unregistered()
            elif kind == "refresh":
                for res in old_resources:
                    if dep.targeted(res["urn"], res["type"]):
                        dep.refresh_resource(res)
            elif kind == "destroy":
                if args.has("exclude-protected"):
                    protected = protected_closure(old_resources)
                for res in reversed(old_resources):
                    if res["urn"] in dep.gone:
                        continue
                    if res["urn"] in protected:  # kept, with what it depends on, as the CLI excludes them
                        dep.keep(res)
                    elif dep.targeted(res["urn"], res["type"]):
                        dep.delete(res)
            if error is None and dep.mandatory_violations:
                error = f"{dep.mandatory_violations} mandatory policy violation(s)"
        except CancelledError:
            error = "update canceled"
        except StandinError as exc:
            error = exc.message
        if dep.inv.cancel.is_set() and error is None:
            error = "update canceled"
        code = _finish(inv, dep, backend, ref, checkpoint, error)
        if code == 0 and protected:
            inv.sink.out("")
            inv.sink.out(f"All unprotected resources were destroyed. There are still {len(protected)} protected "
                         "resources associated with this stack.")
        if code == 0 and kind == "destroy" and not dry_run and args.has("remove"):
            backend.remove_stack(ref)
            cfg_path = StackConfig.for_stack(inv.project_dir, ref).path
            if os.path.exists(cfg_path):
                os.unlink(cfg_path)
            inv.sink.out(f"The resources in the stack have been deleted, and the stack '{ref.name}' has been removed.")
    finally:
        try:
            if dep is None:
                events.emit("summaryEvent", {"maybeCorrupt": False, "durationSeconds": 0,
                                             "resourceChanges": {}, "PolicyPacks": {}})
            events.close()
        finally:
            backend.release_lock(lock)
    return code


def _strings(value: Any) -> set[str]:
    return {value if isinstance(value, str) else json.dumps(value)}


def _run_program(inv: Invocation, dep: Deployment) -> str | None:
    client = inv.args.value("client")
    if not client:
        raise StandinError(
            "the stand-in engine runs only inline Automation API programs "
            "(--client ADDRESS); local Pulumi projects are not supported"
        )
    if inv.args.value("run-program") == "false":
        return None
    from .monitor import run_inline_program

    return run_inline_program(dep, client)


def _finish(
    inv: Invocation,
    dep: Deployment,
    backend: Any,
    ref: StackRef,
    checkpoint: dict[str, Any],
    error: str | None,
) -> int:
    sink = inv.sink
    resources = dep.final_resources()
    stack_outputs: dict[str, Any] = {}
    for res in resources:
        if res["type"] == ROOT_STACK_TYPE and not res.get("parent"):
            stack_outputs = res.get("outputs") or {}
        sink.secrets_to_mask |= props.secret_plaintexts(res.get("outputs"))
        sink.secrets_to_mask |= props.secret_plaintexts(res.get("inputs"))
    duration = time.time() - dep.start
    counts = dict(dep.counts)
    if dep.kind == "refresh":
        counts = {op: n for op, n in counts.items() if op in ("same", "update", "delete")}
    exit_code = EXIT_ERROR
    if error is None and inv.args.has("expect-no-changes"):
        if any(counts.get(op) for op in _CHANGE_OPS):
            operation = "preview" if dep.dry_run and dep.kind == "update" else dep.kind
            error = f"no changes were expected for {operation} but changes were proposed"
            exit_code = EXIT_NO_CHANGES
    if dep.diagnostics or error:
        sink.out("Diagnostics:")
        stack_urn = f"urn:pulumi:{ref.name}::{ref.project}::{ROOT_STACK_TYPE}::{ref.project}-{ref.name}"
        seen_messages = set()
        for severity, message, urn in dep.diagnostics:
            if severity == "debug":
                continue
            seen_messages.add(message.strip())
            label = urn or stack_urn
            res_type = label.split("::")[2].split("$")[-1]
            sink.out(f"  {res_type} ({urn_name(label)}):")
            sink.out("    " + f"{severity}: {message}".replace("\n", "\n    "))
        if error and error.strip() not in seen_messages:
            sink.out(f"  {ROOT_STACK_TYPE} ({ref.project}-{ref.name}):")
            sink.out("    " + f"error: {error}".replace("\n", "\n    "))
        sink.out("")
    if stack_outputs and not dep.dry_run and dep.kind == "update":
        sink.out("Outputs:")
        for key in sorted(stack_outputs):
            sink.out(f"    {key}: {props.display(stack_outputs[key])}")
        sink.out("")
    sink.out("Resources:")
    for op in ("create", "update", "delete", "read"):
        if counts.get(op):
            ing, ed, to = _DONE_VERB[op]
            sink.out(f"    {_SYMBOLS[op]} {counts[op]} {to if dep.dry_run else ed}")
    if counts.get("same"):
        sink.out(f"    {counts['same']} unchanged")
    sink.out("")
    sink.out(f"Duration: {int(round(duration))}s")
    if sink.muted:
        sink.out_always(json.dumps(_preview_json(dep, counts, duration), indent=4))
    dep.events.emit("summaryEvent", {
        "maybeCorrupt": False,
        "durationSeconds": int(round(duration)),
        "resourceChanges": counts,
        "PolicyPacks": {},
    })
    if not dep.dry_run:
        latest = checkpoint["checkpoint"]["latest"]
        latest["resources"] = props.encrypt_value(resources, dep.cipher.encrypt)
        backend.write_checkpoint(ref, checkpoint)
        backend.backup_checkpoint(ref)
        backend.append_history(ref, {
            "kind": dep.kind,
            "startTime": int(dep.start),
            "message": inv.args.value("message", "m", default="") or "",
            "environment": {
                "exec.kind": inv.args.value("exec-kind", default="cli") or "cli",
                "exec.agent": "pulumi-standin/" + STANDIN_VERSION,
            },
            "config": _history_config(dep.config, dep.cipher),
            "result": "failed" if error else "succeeded",
            "endTime": int(time.time()),
            "resourceChanges": counts,
        })
    if error:
        if inv.cancel.is_set():
            sink.err("error: update canceled")
            exit_code = EXIT_CANCELLED
        elif dep.program_failed:
            # The program's own error text is in the diagnostics on stdout.
            sink.err("error: " + ("preview failed" if dep.dry_run else "update failed"))
        else:
            sink.err(f"error: {error}")
        return exit_code
    return 0


def _preview_json(dep: Deployment, counts: dict[str, int], duration: float) -> dict[str, Any]:
    """What ``preview --json`` prints: the config, each step with its old and new state (secrets blinded), the
    duration in nanoseconds and the change summary, as the CLI's ``display.PreviewDigest``."""
    steps = []
    for step in dep.steps:
        # As the CLI's display: unchanged resources are left out, except the root stack and a change of protect.
        protect_changed = bool((step.old or {}).get("protect")) != bool((step.new or {}).get("protect"))
        if step.op == "same" and not protect_changed and urn_type(step.urn) != ROOT_STACK_TYPE:
            continue
        item: dict[str, Any] = {"op": step.op, "urn": step.urn}
        if step.old is not None:
            item["oldState"] = state_resource(dict(step.old, inputs=props.blind(step.old.get("inputs") or {}),
                                                   outputs=props.blind(step.old.get("outputs") or {})))
        if step.new is not None:
            item["newState"] = state_resource(dict(step.new, inputs=props.blind(step.new.get("inputs") or {}),
                                                   outputs=props.blind(step.new.get("outputs") or {})))
        if step.diffs and step.op == "update":
            item["diffReasons"] = list(step.diffs)
        item["detailedDiff"] = None
        steps.append(item)
    document: dict[str, Any] = {}
    if dep.config:  # left out when empty, as Go's omitempty does
        document["config"] = {k: ("[secret]" if secret else config_string(v)) for k, (v, secret) in dep.config.items()}
    document.update(steps=steps, duration=int(duration * 1e9), changeSummary={op: n for op, n in counts.items() if n})
    return document


def protected_closure(resources: list[dict[str, Any]]) -> set[str]:
    """What ``destroy --exclude-protected`` keeps: each protected resource and, transitively, what it depends on
    (its parent, dependencies, provider, property dependencies, deleted-with), as the CLI computes it.

    :param resources: The state's resources.
    """
    by_urn = {r["urn"]: r for r in resources}
    kept: set[str] = set()
    todo = [r["urn"] for r in resources if r.get("protect")]
    while todo:
        urn = todo.pop()
        if urn in kept or urn not in by_urn:
            continue
        kept.add(urn)
        res = by_urn[urn]
        provider = res.get("provider") or ""
        todo.extend(filter(None, [res.get("parent"), provider.rsplit("::", 1)[0] if provider else "",
                                  res.get("deletedWith")]))
        todo.extend(res.get("dependencies") or [])
        for urns in (res.get("propertyDependencies") or {}).values():
            todo.extend(urns)
    return kept


def _pending_text(pending: list[dict[str, Any]]) -> str:
    # The real engine's words (deploymentExecutor.printPendingOperationsWarning).
    lines = [
        f"Attempting to deploy or update resources with {len(pending)} pending operations from previous deployment."
    ]
    for op in pending:
        lines.append(f"  * {op.get('resource', {}).get('urn', '?')}, interrupted while {op.get('type', '?')}")
    lines.append(
        "These resources are in an unknown state because the Pulumi CLI was interrupted while waiting for "
        "changes to these resources to complete. You should confirm whether or not the operations listed "
        "completed successfully by checking the state of the appropriate provider. For example, if you are "
        "using AWS, you can confirm using the AWS Console.\n\n"
        "Once you have confirmed the status of the interrupted operations, you can repair your stack using "
        "`pulumi refresh` which will refresh the state from the provider you are using and clear the pending "
        "operations if there are any.\n\n"
        "Note that `pulumi refresh` will need to be run interactively to clear pending CREATE operations."
    )
    return "\n".join(lines)


def _pending_writer(
    backend: Any, ref: StackRef, checkpoint: dict[str, Any], cipher: PassphraseCipher, dep: Deployment
) -> Any:
    """Write the checkpoint as each step starts and ends, like Pulumi: ``pending_operations`` while a step
    is in flight, the resources done so far once it is (so a hard kill keeps them)."""
    verbs = {"create": "creating", "update": "updating", "delete": "deleting"}
    lock = threading.Lock()
    inflight: dict[str, dict[str, Any]] = {}
    stored = json.loads(json.dumps(checkpoint))  # the last written state, plus in-flight operations
    kept = list(stored["checkpoint"]["latest"].get("pending_operations") or [])  # pending creates stay

    def write(step: Step, starting: bool) -> None:
        if step.op not in verbs:
            return
        with lock:
            if starting:
                # The whole resource, as the engine records it (a pending create then has what it would have been).
                res = props.encrypt_value(dict(step.new or step.old or {}), cipher.encrypt)
                res.setdefault("urn", step.urn)
                inflight[step.urn] = {"resource": state_resource(res), "type": verbs[step.op]}
            else:
                inflight.pop(step.urn, None)
                stored["checkpoint"]["latest"]["resources"] = props.encrypt_value(dep.final_resources(), cipher.encrypt)
            latest = stored["checkpoint"]["latest"]
            if inflight or kept:
                latest["pending_operations"] = kept + list(inflight.values())
            else:
                latest.pop("pending_operations", None)
            backend.write_checkpoint(ref, stored)

    return write


def _load_policies(inv: Invocation, packs: list[str], configs: list[str]) -> list[dict[str, Any]]:
    """Rules from ``<pack>/standin-policy.json``; a pack's config file may change or disable levels.

    ``{"name": "gcp-guard", "policies": [{"name": "no-public-buckets", "type": "gcp:storage/bucket:Bucket",
    "when": {"publicRead": true}, "level": "mandatory", "message": "..."}]}``; config:
    ``{"no-public-buckets": {"enforcementLevel": "advisory"}}`` or ``{"no-public-buckets": "disabled"}``.
    """
    rules: list[dict[str, Any]] = []
    for index, pack in enumerate(packs):
        path = os.path.join(pack if os.path.isabs(pack) else os.path.join(inv.cwd, pack), POLICY_FILE)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as handle:
            spec = json.load(handle)
        overrides: dict[str, Any] = {}
        if index < len(configs) and configs[index]:
            with open(configs[index], encoding="utf-8") as handle:
                overrides = json.load(handle)
        for policy in spec.get("policies", []):
            level = policy.get("level", "advisory")
            override = overrides.get(policy["name"])
            if isinstance(override, dict):
                level = override.get("enforcementLevel", level)
            elif isinstance(override, str):
                level = override
            if level == "disabled":
                continue
            rules.append({"pack": spec.get("name", os.path.basename(pack)), "policy": policy["name"],
                          "type": policy.get("type", "*"), "when": policy.get("when") or {},
                          "level": level, "message": policy.get("message", policy["name"])})
    return rules


def _history_config(config: dict[str, tuple[Any, bool]], cipher: PassphraseCipher) -> dict[str, Any]:
    out = {}
    for key, (value, secret) in config.items():
        text = config_string(value)
        if secret:
            out[key] = {"secret": True, "ciphertext": cipher.encrypt(text)}
        else:
            out[key] = {"value": text, "secret": False}
    return out

