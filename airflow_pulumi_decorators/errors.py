"""Every error this library raises, in one hierarchy.

Upstream errors (``pulumi.automation.errors``, google-auth) are translated into these at one boundary
each (:mod:`airflow_pulumi_decorators.engine` and :mod:`airflow_pulumi_decorators.identity`), so a DAG
author only ever catches or reads ours. Nothing here imports Pulumi or google-auth.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class PulumiDecoratorError(Exception):
    """Base class of every error raised by airflow-pulumi-decorators."""


class ConfigurationError(PulumiDecoratorError, ValueError):
    """A parameter, environment or setting is wrong; the message names it and says how to fix it."""


class UnknownEnvironmentError(ConfigurationError, KeyError):
    """The run asked for an environment name the task does not define."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = sorted(known)
        super().__init__(
            f"environment {name!r} is not defined for this task; known environments: "
            f"{', '.join(self.known) or '(none)'}. Fix the 'environment' argument (or the DAG param "
            f"it is rendered from) or add {name!r} to 'environments'."
        )

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class PulumiCliNotFoundError(PulumiDecoratorError):
    """No ``pulumi`` executable could be found."""


class PulumiEngineError(PulumiDecoratorError):
    """The Pulumi engine failed an operation.

    :param stack: the stack the operation ran on.
    :param operation: ``up``, ``preview``, ``refresh``, ``destroy`` or a stack command.
    """

    def __init__(self, message: str, *, stack: str | None = None, operation: str | None = None) -> None:
        super().__init__(message)
        self.stack = stack
        self.operation = operation


class ProgramError(PulumiEngineError):
    """The user's Pulumi program raised; its traceback is in the task log.

    :ivar exception_type: the name of the exception class the program raised (``KeyError``), when known.
    :ivar exception_message: that exception's message, when known.
    :ivar resource: ``(name, type)`` of the resource whose inputs an ``apply`` was computing when it raised,
        else ``None``.
    """

    exception_type: str | None = None
    exception_message: str | None = None
    resource: tuple[str, str] | None = None


class ConcurrentUpdateError(PulumiEngineError):
    """Another update holds the stack's lock."""


class StackNotFoundError(PulumiEngineError):
    """The stack does not exist and the operation does not create it."""


class IdentityError(PulumiDecoratorError):
    """A short-lived Google Cloud credential could not be obtained.

    Never carries a token: ``detail`` is Google's error text with any token scrubbed.

    :param identity: a description of the identity (its ``describe()``).
    :param endpoint: the URL that failed, when one did.
    :param status: the HTTP status, when there was one.
    :param detail: Google's error text.
    """

    def __init__(
        self,
        message: str,
        *,
        identity: str = "",
        endpoint: str | None = None,
        status: int | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.identity = identity
        self.endpoint = endpoint
        self.status = status
        self.detail = detail


class CredentialLifetimeError(IdentityError):
    """The credential would expire before the task's time budget ends."""


class ProtectedStackError(ConfigurationError):
    """A destructive operation (``destroy``, removing the stack) was asked of a protected environment.

    :param stack: the protected stack.
    :param operation: what was refused.
    """

    def __init__(self, message: str, *, stack: str | None = None, operation: str | None = None) -> None:
        super().__init__(message)
        self.stack = stack
        self.operation = operation


class DriftDetectedError(PulumiEngineError):
    """``expect_no_changes`` was set and the engine found changes (drift between code, state and cloud).

    :param changes: change counts by op.
    :param steps: the planned steps that are not ``same`` (``{"op", "urn", "type", "name"}`` and their
        property ``diff``).
    """

    def __init__(self, message: str, *, stack: str | None = None, operation: str | None = None,
                 changes: Mapping[str, int] | None = None, steps: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message, stack=stack, operation=operation)
        self.changes = dict(changes or {})
        self.steps = list(steps or [])


class PlanChangedError(PulumiEngineError):
    """An ``up`` bound to an approved preview planned again and found a plan that differs from the approved one
    (inputs, config, a step, the CLI or SDK version); nothing was applied.

    :param changes: each difference, in words (``config key `x` changed``, ``step `update T a` is now `replace```).
    """

    def __init__(self, message: str, *, stack: str | None = None, operation: str | None = None,
                 changes: list[str] | None = None) -> None:
        super().__init__(message, stack=stack, operation=operation)
        self.changes = list(changes or [])


class PolicyViolationError(PulumiEngineError):
    """A policy pack reported mandatory violations; ``violations`` lists them.

    :param violations: ``{"policy_pack", "policy", "level", "urn", "message"}`` per violation.
    """

    def __init__(self, message: str, *, stack: str | None = None, operation: str | None = None,
                 violations: list[dict[str, str]] | None = None) -> None:
        super().__init__(message, stack=stack, operation=operation)
        self.violations = list(violations or [])


class OperationInterruptedError(PulumiEngineError):
    """The task was killed while the engine ran; the engine was asked to stop. (A timeout stops the engine
    the same way, then raises Airflow's ``AirflowTaskTimeout``.)

    :param outcome: ``graceful`` (the engine wrote its state and released the lock), ``terminated`` or
        ``killed`` (it had to be forced: pending operations and a lock may be left; see the message), or
        ``abandoned`` (an in-process engine, such as the stand-in, did not stop in time).
    """

    def __init__(self, message: str, *, stack: str | None = None, operation: str | None = None,
                 outcome: str = "graceful") -> None:
        super().__init__(message, stack=stack, operation=operation)
        self.outcome = outcome


class CliInstallError(PulumiCliNotFoundError):
    """The Pulumi CLI could not be installed on the worker; the message has the command to do it by hand."""


class PluginInstallError(PulumiDecoratorError):
    """A provider plugin could not be installed into the worker's plugin cache; says how to pre-install it."""


class OutputError(PulumiDecoratorError, ValueError):
    """A stack output the task cannot push as XCom; the message names the output and the fix.

    :param key: the output's name.
    :param path: where inside the output the problem is (``['ips'][2]``); empty for the value itself.
    """

    def __init__(self, message: str, *, key: str, path: str = "") -> None:
        super().__init__(message)
        self.key = key
        self.path = path


class ReservedOutputNameError(OutputError):
    """An output's name cannot be an XCom key of its own: one the task already uses (``return_value``,
    ``pulumi_summary`` …), which with ``multiple_outputs`` it would silently replace, or a name that is not ASCII
    (Airflow 3 sends XCom keys in request URLs). Rename the output."""


class OutputValueError(OutputError):
    """An output's value (or a value inside it) is not JSON and has no lossless JSON form; the message says
    how to convert it.

    :param type_name: the type found.
    """

    def __init__(self, message: str, *, key: str, path: str = "", type_name: str = "") -> None:
        super().__init__(message, key=key, path=path)
        self.type_name = type_name


class WrongPassphraseError(ConfigurationError):
    """The passphrase the engine got is not the one the stack's secrets were encrypted with.

    :param source: where the passphrase came from (the ``pulumi`` connection, a worker variable, a file).
    """

    def __init__(self, message: str, *, source: str = "") -> None:
        super().__init__(message)
        self.source = source


class StateCorruptError(PulumiEngineError):
    """The stack's state (its checkpoint) cannot be read; the message names the file and how to restore it.

    :param path: the checkpoint file, for a ``file://`` backend.
    """

    def __init__(self, message: str, *, stack: str | None = None, operation: str | None = None,
                 path: str | None = None) -> None:
        super().__init__(message, stack=stack, operation=operation)
        self.path = path


class BackendAccessError(ConfigurationError):
    """The state backend cannot be opened or written (a missing or unwritable folder, a path under a file).

    :param backend: the backend URL.
    """

    def __init__(self, message: str, *, backend: str = "") -> None:
        super().__init__(message)
        self.backend = backend


class SecretOutputError(PulumiDecoratorError):
    """A reference to a secret stack output (``secret_outputs="reference"``) could not be resolved in the task
    that reads it. Never carries the value.

    :param reference: what the reference names, in words (project, stack, output, backend).
    """

    def __init__(self, message: str, *, reference: str = "") -> None:
        super().__init__(message)
        self.reference = reference


class SecretReferenceError(SecretOutputError, ValueError):
    """An XCom value is marked as a secret-output reference but is not one this version reads."""


class SecretOutputWithheldError(SecretOutputError):
    """A task read a secret stack output that its producing task withheld from XCom (the default): XCom holds a
    marker, never the value. Set ``secret_outputs="reference"`` on the producing task to hand the value on."""


class SecretOutputNotFoundError(SecretOutputError):
    """The referenced stack, or the output in it, no longer exists (destroyed, removed, renamed)."""


class SecretOutputAccessError(SecretOutputError):
    """The reading task cannot open the referenced stack's state or decrypt its secrets: it lacks the backend's
    credentials, the ``pulumi`` connection or the passphrase the producer used."""


class SecretOutputNotSecretError(SecretOutputError):
    """The referenced output exists but is not (or no longer) secret: the program changed since the reference
    was pushed, and the value now sits in plain text in the state."""
