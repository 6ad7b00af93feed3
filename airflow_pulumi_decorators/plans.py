"""Plan binding: the fingerprint a preview records of its plan, and the comparison an approved ``up`` makes
before it applies anything (:class:`~airflow_pulumi_decorators.errors.PlanChangedError` when they differ).

A fingerprint has five parts: the planned steps (op, resource, property diff), the program's inputs (the
rendered ``op_args``/``op_kwargs``), the stack config, and the CLI and SDK versions. It travels in the preview
task's XCom as the key ``plan`` of its return value (:meth:`PlanFingerprint.to_xcom`), with a digest of the whole.

Nothing secret is stored in a recoverable form. A step's secret values are ``[secret]`` already (the engine's
events blind them). A secret config value, and an input Airflow's secret masker would hide, is stored as an
HMAC-SHA256 keyed with a key derived (PBKDF2) from the stack's passphrase (``PULUMI_CONFIG_PASSPHRASE`` or
``PULUMI_CONFIG_PASSPHRASE_FILE``), so reading XCom without the passphrase does not allow guessing it. Without a
passphrase (a ``gcpkms://`` or Pulumi Cloud secrets provider) only whether such a value is there is recorded: a
changed secret value is then detected only when it changes a step (a secret resource property shows as a
``[secret]`` update in the re-plan). Plain config values and inputs are stored as SHA-256 digests.

Plain Python: no Pulumi, no Airflow.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_pulumi_decorators.errors import PlanChangedError

#: The key of the preview's return value that carries its plan fingerprint.
PLAN_KEY = "plan"
#: What a secret value is recorded as when there is no key to hash it with.
SECRET_PRESENT = "[secret]"
#: PBKDF2 rounds deriving the HMAC key from the passphrase: each guess of a passphrase costs this many.
_ROUNDS = 200_000
#: At most this many differences are named in a PlanChangedError's message (all are in ``changes``).
MAX_NAMED = 12


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=repr, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def secret_key(env: Mapping[str, str | None], environ: Mapping[str, str], *, project: str, stack: str) -> bytes | None:
    """The key that hashes secret values in a fingerprint: derived from the stack's passphrase, salted with the
    project and stack; ``None`` when the run has no passphrase (secret values are then only marked present).

    :param env: the engine's variables for the run (the connection's passphrase is here).
    :param environ: the worker's environment.
    :param project: the Pulumi project.
    :param stack: the stack.
    """
    passphrase = env.get("PULUMI_CONFIG_PASSPHRASE")
    if passphrase is None and "PULUMI_CONFIG_PASSPHRASE" not in env:
        passphrase = environ.get("PULUMI_CONFIG_PASSPHRASE")
    path = env.get("PULUMI_CONFIG_PASSPHRASE_FILE") or environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if not passphrase and path and os.path.isfile(path):
        with open(path, encoding="utf-8") as handle:
            passphrase = handle.read().strip()
    if not passphrase:
        return None
    salt = f"airflow-pulumi-decorators plan binding|{project}|{stack}".encode()
    return hashlib.pbkdf2_hmac("sha256", passphrase.encode(), salt, _ROUNDS)


def _keyed(value: Any, key: bytes | None) -> str:
    if key is None:
        return SECRET_PRESENT
    text = json.dumps(value, sort_keys=True, default=repr, separators=(",", ":"))
    return "hmac:" + hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class PlanBasis:
    """What a fingerprint records besides the engine's plan: the program's inputs and the stack config, each as a
    digest (secret ones keyed, see the module). Made the same way by the preview and by the ``up`` bound to it.

    :param inputs: argument (``args[0]``, or a keyword's name) → digest.
    :param config: config key → digest.
    :param secrets: how secret values are recorded: ``keyed`` (hashed with the passphrase's key), ``presence``
        (no passphrase: marked present only) or ``none`` (there are none).
    """

    inputs: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, str] = field(default_factory=dict)
    secrets: str = "none"

    @classmethod
    def of(
        cls,
        op_args: Collection[Any],
        op_kwargs: Mapping[str, Any],
        config: Mapping[str, str],
        secret_config: Mapping[str, str],
        *,
        key: bytes | None,
        is_secret: Callable[[Any], bool] = lambda _value: False,
    ) -> PlanBasis:
        """The basis of a run.

        :param op_args: the program's positional arguments (rendered).
        :param op_kwargs: its keyword arguments (rendered).
        :param config: plaintext config.
        :param secret_config: secret config (keyed digests only).
        :param key: from :func:`secret_key`, or ``None``.
        :param is_secret: whether an input holds a value Airflow masks (then keyed like secret config).
        """
        arguments = {**{f"args[{i}]": v for i, v in enumerate(op_args)}, **{str(k): v for k, v in op_kwargs.items()}}
        inputs = {name: _keyed(v, key) if is_secret(v) else _digest(v) for name, v in arguments.items()}
        configs = {k: _digest(v) for k, v in config.items()}
        configs.update({k: _keyed(v, key) for k, v in secret_config.items()})
        return cls(inputs=dict(sorted(inputs.items())), config=dict(sorted(configs.items())),
                   secrets="keyed" if key is not None else "presence")


def step_line(step: Mapping[str, Any]) -> str:
    """A step as its fingerprint records it: ``update <type> <name>`` and its property changes (values as the
    preview shows them, secrets ``[secret]``)."""
    head = f"{step.get('op')} {step.get('type')} {step.get('name')}"
    changes = []
    for c in step.get("diff") or []:
        kind = c.get("kind")
        text = (f"+{c.get('new')}" if kind == "add" else f"-{c.get('old')}" if kind == "delete"
                else f"{c.get('old')}=>{c.get('new')}")
        changes.append(f"{c.get('path')}: {text}{' (replace)' if c.get('replace') else ''}")
    if step.get("diff_omitted"):
        changes.append(f"+{step['diff_omitted']} more")
    return head + (" | " + "; ".join(changes) if changes else "")


@dataclass(frozen=True)
class PlanFingerprint:
    """A plan as the preview saw it, comparable with a later plan of the same task.

    :param steps: URN → :func:`step_line`, ordered by URN (the engine runs independent steps in any order).
    :param inputs: :attr:`PlanBasis.inputs`.
    :param config: :attr:`PlanBasis.config`.
    :param cli_version: the Pulumi CLI's version.
    :param sdk_version: the Pulumi SDK's version.
    :param secrets: :attr:`PlanBasis.secrets`.
    """

    steps: Mapping[str, str]
    inputs: Mapping[str, str]
    config: Mapping[str, str]
    cli_version: str
    sdk_version: str
    secrets: str = "none"

    @classmethod
    def of(cls, steps: Collection[Mapping[str, Any]], basis: PlanBasis, *, cli_version: str,
           sdk_version: str) -> PlanFingerprint:
        """The fingerprint of a plan.

        :param steps: the preview's steps (:attr:`~airflow_pulumi_decorators.engine.OperationResult.steps`).
        :param basis: the run's inputs and config.
        :param cli_version: the CLI's version.
        :param sdk_version: the SDK's version.
        """
        lines = {str(s.get("urn")): step_line(s) for s in steps}
        return cls(steps=dict(sorted(lines.items())), inputs=dict(basis.inputs), config=dict(basis.config),
                   cli_version=cli_version, sdk_version=sdk_version, secrets=basis.secrets)

    @property
    def digest(self) -> str:
        """One digest of every part."""
        return _digest([self.steps, self.inputs, self.config, self.cli_version, self.sdk_version])

    def to_xcom(self) -> dict[str, Any]:
        """The fingerprint as the preview's XCom carries it (key :data:`PLAN_KEY`)."""
        return {"fingerprint": self.digest, "steps": dict(self.steps), "inputs": dict(self.inputs),
                "config": dict(self.config), "cli_version": self.cli_version, "sdk_version": self.sdk_version,
                "secrets": self.secrets}

    @classmethod
    def from_xcom(cls, value: Mapping[str, Any]) -> PlanFingerprint:
        """The fingerprint a preview pushed.

        :raises ValueError: ``value`` is not one.
        """
        try:
            return cls(steps=dict(value["steps"]), inputs=dict(value["inputs"]), config=dict(value["config"]),
                       cli_version=str(value["cli_version"]), sdk_version=str(value["sdk_version"]),
                       secrets=str(value.get("secrets", "none")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a plan fingerprint: {exc}") from None


def _keyed_changes(what: str, approved: Mapping[str, str], now: Mapping[str, str], name: str) -> list[str]:
    found = []
    for key in sorted(set(approved) | set(now)):
        if key not in now:
            found.append(f"{what} `{key}` was removed")
        elif key not in approved:
            found.append(f"{what} `{key}` was added")
        elif approved[key] != now[key]:
            found.append(f"{what} `{key}` {name}")
    return found


def _step_head(line: str) -> str:
    return line.split(" | ", 1)[0]


def differences(approved: PlanFingerprint, now: PlanFingerprint) -> list[str]:
    """What differs between the approved plan and the new one, each in words (empty: the same plan).

    :param approved: the preview's fingerprint.
    :param now: the fingerprint of the plan made again.
    """
    found = []
    if approved.cli_version != now.cli_version:
        found.append(f"CLI version {approved.cli_version} → {now.cli_version}")
    if approved.sdk_version != now.sdk_version:
        found.append(f"SDK version {approved.sdk_version} → {now.sdk_version}")
    changed_inputs = _keyed_changes("input", approved.inputs, now.inputs, "changed")
    if changed_inputs:
        found.append("inputs changed: " + ", ".join(changed_inputs))
    found += _keyed_changes("config key", approved.config, now.config, "changed")
    for urn in sorted(set(approved.steps) | set(now.steps)):
        before, after = approved.steps.get(urn), now.steps.get(urn)
        if before == after:
            continue
        if after is None:
            found.append(f"step `{_step_head(before or '')}` is no longer planned")
        elif before is None:
            found.append(f"new step `{_step_head(after)}`")
        elif _step_head(before).split(" ", 1)[0] != _step_head(after).split(" ", 1)[0]:
            found.append(f"step `{_step_head(before)}` is now `{_step_head(after).split(' ', 1)[0]}`")
        else:
            found.append(f"step `{_step_head(before)}` changes differently: approved `{before}`, now `{after}`")
    return found


def check_plan(approved: PlanFingerprint, now: PlanFingerprint, *, stack: str, approved_task: str) -> None:
    """Refuse to apply a plan that is not the approved one.

    :param approved: the preview's fingerprint.
    :param now: the plan made again by the ``up``.
    :param stack: the stack, named in the error.
    :param approved_task: the preview task, named in the error.
    :raises PlanChangedError: naming what changed.
    """
    found = differences(approved, now)
    if not found:
        return
    named = found[:MAX_NAMED]
    more = f"; and {len(found) - MAX_NAMED} more" if len(found) > MAX_NAMED else ""
    raise PlanChangedError(
        f"refusing to apply on stack {stack!r}: the plan changed since it was approved in task {approved_task!r}: "
        + "; ".join(named) + more + ". Nothing was applied. Run the preview again and approve the new plan.",
        stack=stack, operation="up", changes=found,
    )


@dataclass(frozen=True)
class PlanBinding:
    """What an ``up`` bound to an approved preview checks before it applies (the engine calls :meth:`check`
    with the plan it made again).

    :param approved: the preview's fingerprint.
    :param basis: this run's inputs and config.
    :param approved_task: the preview task's id.
    :param stack: the stack.
    :param strict: constrain the ``up`` to the plan made again (Pulumi's update plans).
    """

    approved: PlanFingerprint
    basis: PlanBasis
    approved_task: str
    stack: str
    strict: bool = False

    def check(self, steps: Collection[Mapping[str, Any]], cli_version: str, sdk_version: str) -> None:
        """Compare the plan made again with the approved one.

        :raises PlanChangedError: naming what changed.
        """
        now = PlanFingerprint.of(steps, self.basis, cli_version=cli_version, sdk_version=sdk_version)
        check_plan(self.approved, now, stack=self.stack, approved_task=self.approved_task)
