"""The run's stack, through Pulumi's public ``LocalWorkspace`` and ``Stack`` classes, with fewer CLI calls than
their defaults make:

- ``up``/``preview`` select the stack, creating it when missing, in one call (``stack select --create``);
  ``refresh``/``destroy`` only select it: a missing stack is an error there;
- after ``up``, one ``stack output --show-secrets`` call gives the values; which of them are secret, at any
  depth, comes from the root stack's outputs in the event stream, which the CLI masks;
- after ``up``/``refresh``/``destroy``, the update summary is the stream's summary event where the backend
  numbers no updates (file and bucket backends); elsewhere ``stack history`` gives the update's number.

Whenever the stream lacks what is needed, the SDK's own call is made instead.

:func:`read_outputs` reads a stack's outputs without running anything (a downstream task resolving a reference
to a secret output): the two ``stack output`` calls, no select, no program.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
from collections.abc import Mapping
from typing import Any, cast

from airflow_pulumi_decorators.engine.compat import stack_select_mode
from airflow_pulumi_decorators.engine.events import Observer
from airflow_pulumi_decorators.engine.request import OperationRequest, RunContext
from airflow_pulumi_decorators.outputs import StackOutput

#: How the CLI shows a secret value when secrets are not revealed.
SECRET = "[secret]"
#: Pulumi's property-value signature: how the event stream writes a (blinded) secret.
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
#: Operations that create a missing stack.
CREATING = frozenset({"up", "preview"})
#: The history ``kind`` of each operation's update.
_KIND = {"up": "update", "refresh": "refresh", "destroy": "destroy"}


def workspace_options(request: OperationRequest, work_dir: str, command: Any) -> dict[str, Any]:
    """``LocalWorkspace`` arguments for the run.

    :param work_dir: the run's work directory.
    :param command: the run's guarded ``PulumiCommand``.
    """
    from pulumi import automation as auto

    context = request.context
    return {
        "work_dir": work_dir,
        "pulumi_command": command,
        # None marks a variable the engine must not inherit; our command adapter blanks it.
        "env_vars": context.env,
        # The SDK's inline helpers set `main` to the working directory: relative asset paths resolve there.
        "project_settings": auto.ProjectSettings(name=request.project, runtime="python", main=os.getcwd()),
        "secrets_provider": context.secrets_provider,
        "pulumi_home": context.pulumi_home,
    }


def run_stack(
    request: OperationRequest, program: Any, observer: Observer, options: Mapping[str, Any], *, create: bool
) -> Any:
    """The request's stack with ``program``, selected, or created when missing and ``create``.

    :param observer: the operation's event stream (outputs and summary are served from it).
    :param options: :func:`workspace_options`.
    :param create: create a missing stack (``up``/``preview``: :data:`CREATING`).
    :raises StackNotFoundError: (Pulumi's) the stack does not exist, and not ``create``.
    :raises ConcurrentUpdateError: (Pulumi's) creating it found the stack locked.
    """
    workspace_cls, stack_cls = _classes()
    workspace = workspace_cls(create_missing=create, program=program, **options)
    return stack_cls(request, workspace, observer)


def numbers_updates(context: RunContext) -> bool:
    """Whether the backend numbers updates (Pulumi Cloud, or the CLI's own choice, which may be it); file and
    bucket backends number none."""
    return context.backend is None or context.backend.kind == "cloud"


def cli_call(workspace: Any, args: list[str]) -> Any:
    """Run ``pulumi ARGS`` with the workspace's command, folder and environment; returns its ``CommandResult``."""
    env = {"PULUMI_HOME": workspace.pulumi_home} if workspace.pulumi_home else {}
    return workspace.pulumi_command.run(args, workspace.work_dir, {**env, **workspace.env_vars})


def as_masked(value: Any) -> Any:
    """An output as ``stack output --json`` shows it: the event stream's blinded secrets as ``"[secret]"``."""
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return SECRET
        return {k: as_masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_masked(v) for v in value]
    return value


def same_shape(masked: Any, plain: Any) -> bool:
    """Whether ``masked`` is ``plain`` with secrets masked, and nothing else different: same keys, same lengths,
    equal values wherever it shows one."""
    if masked == SECRET:
        return True
    if isinstance(masked, dict) and isinstance(plain, dict):
        return masked.keys() == plain.keys() and all(same_shape(masked[k], plain[k]) for k in masked)
    if isinstance(masked, list) and isinstance(plain, list):
        return len(masked) == len(plain) and all(same_shape(m, p) for m, p in zip(masked, plain, strict=True))
    return bool(masked == plain)


def _json(result: Any) -> dict[str, Any]:
    parsed = json.loads(result.stdout or "{}")
    return parsed if isinstance(parsed, dict) else {}


def read_outputs(request: OperationRequest, options: Mapping[str, Any]) -> dict[str, StackOutput]:
    """The stack's current outputs, each with its value as shown masked (which parts are secret).

    Two CLI calls besides the workspace's ``version``: ``stack output --json`` (secrets shown as ``"[secret]"``)
    and the same with ``--show-secrets``. Neither writes to the state, nor does anything here log a value.

    :param request: names the project, stack and run context (its program is never run).
    :param options: :func:`workspace_options` (no program).
    :raises StackNotFoundError: (Pulumi's) the stack does not exist.
    :raises CommandError: (Pulumi's) anything else the CLI refused (passphrase, backend access).
    """
    from pulumi import automation as auto

    workspace = auto.LocalWorkspace(**options)
    read = ["stack", "output", "--json", "--stack", request.stack]
    masked = _json(cli_call(workspace, read))
    plain = _json(cli_call(workspace, [*read, "--show-secrets"]))
    return {k: StackOutput(value=v, secret=masked.get(k) == SECRET, masked=masked.get(k)) for k, v in plain.items()}


@functools.cache
def _classes() -> tuple[type[Any], type[Any]]:
    """The workspace and stack classes (made on first use: importing this module loads no Pulumi)."""
    from pulumi import automation as auto

    class RunWorkspace(auto.LocalWorkspace):
        """A ``LocalWorkspace`` whose ``select_stack`` creates a missing stack in the same call when asked to.

        :param create_missing: create the stack when it does not exist.
        """

        def __init__(self, *, create_missing: bool, **options: Any) -> None:
            self.create_missing = create_missing
            super().__init__(**options)

        def select_stack(self, stack_name: str) -> None:
            if not self.create_missing:
                super().select_stack(stack_name)
                return
            args = ["stack", "select", "--create", "--stack", stack_name]
            if self.secrets_provider:
                args += ["--secrets-provider", self.secrets_provider]
            try:
                cli_call(self, args)
            except auto.StackAlreadyExistsError:
                # Another run created it between the CLI's look and its create: it exists now.
                super().select_stack(stack_name)

    class RunStack(auto.Stack):
        """A ``Stack`` serving ``outputs()`` and ``info()`` (what the SDK reads after an update) from the
        operation's event stream where it can.

        :param request: the run's request.
        :param workspace: a :class:`RunWorkspace`; constructing selects (or creates) the stack.
        :param observer: the operation's event stream.
        """

        def __init__(self, request: OperationRequest, workspace: Any, observer: Observer) -> None:
            self._request = request
            self._observer = observer
            #: The outputs as shown masked, once read: secrets nested in an output are found in it.
            self.masked_outputs: dict[str, Any] = {}
            super().__init__(request.stack, workspace, stack_select_mode())

        def outputs(self) -> Any:
            masked = self._observer.root_outputs
            masked = as_masked(masked) if masked is not None else None
            if masked == {}:
                return {}  # the update registered no outputs: there are none to read
            read = ["stack", "output", "--json", "--stack", self.name]
            plain = _json(cli_call(self.workspace, [*read, "--show-secrets"]))
            if masked is None or not same_shape(masked, plain):
                masked = _json(cli_call(self.workspace, read))  # the SDK's way: the CLI masks them
            self.masked_outputs = masked
            return {k: auto.OutputValue(value=v, secret=masked.get(k) == SECRET) for k, v in plain.items()}

        def info(self, show_secrets: bool = True) -> Any:
            changes = self._observer.summary_changes
            if changes is None or numbers_updates(self._request.context):
                return super().info(show_secrets)
            ended = datetime.datetime.now()
            started = ended - datetime.timedelta(seconds=self._observer.summary_duration or 0)
            return auto.UpdateSummary(
                kind=_KIND.get(self._request.operation, self._request.operation),
                start_time=started,
                end_time=ended,
                message=self._request.message,
                environment={},
                config={},
                result="succeeded",
                version=None,
                # Op names, as the SDK's own history reading gives them.
                resource_changes=cast(Any, dict(changes)),
            )

    return RunWorkspace, RunStack
