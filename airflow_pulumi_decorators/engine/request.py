"""What the engine is asked to run and what it reports back, as plain data."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from airflow_pulumi_decorators.backend_url import BackendUrl
from airflow_pulumi_decorators.cli import plugins_dir as _plugins_dir
from airflow_pulumi_decorators.locks import TaskRef, TaskStates
from airflow_pulumi_decorators.operations import Operation, OperationOptions
from airflow_pulumi_decorators.outputs import StackOutput

if TYPE_CHECKING:
    from airflow_pulumi_decorators.plans import PlanBasis, PlanBinding

#: Ops that are not changes (for ``has_changes`` and drift).
NO_CHANGE_OPS = frozenset({"same", "read", "refresh"})

BACKEND_VAR = "PULUMI_BACKEND_URL"
HOME_VAR = "PULUMI_HOME"


def passphrase_source(env: Mapping[str, str | None], environ: Mapping[str, str]) -> str:
    """Where the engine's passphrase comes from, in words (never the passphrase).

    :param env: the variables the run hands the engine (a ``None`` value removes a worker variable).
    :param environ: the worker's environment.
    """
    if env.get("PULUMI_CONFIG_PASSPHRASE"):
        return "the pulumi connection (its extra 'config_passphrase')"
    if "PULUMI_CONFIG_PASSPHRASE" not in env and environ.get("PULUMI_CONFIG_PASSPHRASE"):
        return "the worker's PULUMI_CONFIG_PASSPHRASE"
    path = env.get("PULUMI_CONFIG_PASSPHRASE_FILE") or environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if path:
        return f"the file PULUMI_CONFIG_PASSPHRASE_FILE={path}"
    return "the engine's environment"


@dataclass(frozen=True)
class RunContext:
    """Where and with what one run's engine works, resolved once when the task starts
    (:func:`airflow_pulumi_decorators.prepare.backend.resolve`).

    :param backend: the state backend; ``None`` leaves the choice to the CLI (its login or default).
    :param extra_env: the engine's variables besides the backend and ``PULUMI_HOME`` (access token,
        passphrase, credentials); a ``None`` value removes an inherited variable. :attr:`env` has them all.
    :param pulumi_home: the ``PULUMI_HOME`` for this run; ``None`` leaves the worker's.
    :param secrets_provider: the secrets provider for a new stack (``passphrase``, ``gcpkms://…``);
        ``None`` lets the backend choose its default.
    :param passphrase_source: where the passphrase comes from, in words, for a wrong-passphrase error.
    :param plugins_dir: the plugin folder the CLI uses in this run; by default the one of ``pulumi_home``
        (else the worker's ``PULUMI_HOME`` or ``~/.pulumi``).
    """

    backend: BackendUrl | None = None
    extra_env: Mapping[str, str | None] = field(default_factory=dict, repr=False)
    pulumi_home: str | None = None
    secrets_provider: str | None = None
    passphrase_source: str = "the engine's environment"
    plugins_dir: str = ""

    def __post_init__(self) -> None:
        if not self.plugins_dir:
            home = {HOME_VAR: self.pulumi_home} if self.pulumi_home else {}
            object.__setattr__(self, "plugins_dir", _plugins_dir({**os.environ, **home}))

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str | None],
        *,
        pulumi_home: str | None = None,
        secrets_provider: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> RunContext:
        """A context from an engine environment as a whole (tests, benchmarks, scripts that drive the engine
        directly): ``PULUMI_BACKEND_URL`` and ``PULUMI_HOME`` in ``env``, else the worker's.

        :param env: the variables for the engine.
        :param pulumi_home: ``PULUMI_HOME`` for the run (wins over ``env``'s).
        :param secrets_provider: the secrets provider for a new stack.
        :param environ: the worker's environment (default ``os.environ``).
        """
        environ = os.environ if environ is None else environ
        url = env.get(BACKEND_VAR) or environ.get(BACKEND_VAR)
        rest = {k: v for k, v in env.items() if k not in (BACKEND_VAR, HOME_VAR)}
        home = pulumi_home or env.get(HOME_VAR)
        return cls(
            backend=BackendUrl(url) if url else None,
            extra_env=rest,
            pulumi_home=home,
            secrets_provider=secrets_provider,
            passphrase_source=passphrase_source(env, environ),
            plugins_dir=_plugins_dir({**environ, **({HOME_VAR: home} if home else {})}),
        )

    @property
    def backend_text(self) -> str:
        """The backend as messages name it."""
        return self.backend.url if self.backend is not None else "(the CLI's default)"

    @property
    def env(self) -> dict[str, str | None]:
        """Every variable the engine gets: :attr:`extra_env`, the backend and ``PULUMI_HOME``."""
        env = dict(self.extra_env)
        if self.backend is not None:
            env[BACKEND_VAR] = self.backend.url
        if self.pulumi_home is not None:
            env[HOME_VAR] = self.pulumi_home
        return env

    def with_env(self, extra: Mapping[str, str | None]) -> RunContext:
        """The same context with more engine variables (a credential's), which win."""
        return replace(self, extra_env={**self.extra_env, **extra}) if extra else self


@dataclass(frozen=True)
class OperationRequest:
    """Everything one engine run needs, as plain data.

    :param project: the Pulumi project name.
    :param stack: the stack name (``name``, ``org/name`` or ``org/project/name``).
    :param program: the inline program: a no-argument callable returning a mapping of outputs or ``None``.
    :param context: the backend, ``PULUMI_HOME``, secrets provider and engine environment of the run.
    :param config: plaintext config.
    :param secret_config: config stored encrypted.
    :param message: the update message (who ran it, from where).
    :param operation: ``up``, ``preview``, ``refresh`` or ``destroy``.
    :param options: how the operation runs (:class:`OperationOptions`).
    :param multiple_outputs: the task pushes one XCom per output, so output names that are XCom keys the
        task already uses are refused (before anything is deployed).
    :param task: the Airflow task instance and try running it (recorded in the lock's holder note).
    :param task_states: asks Airflow for a task instance's state, to judge whether a lock's holder is gone
        (``None``: not asked, e.g. outside a task).
    :param plan_basis: the inputs and config a plan fingerprint records (a ``preview``, or a bound ``up``).
    :param plan_binding: an ``up`` bound to an approved preview: it plans again and checks the plan
        (:meth:`~airflow_pulumi_decorators.plans.PlanBinding.check`) before it applies anything.
    """

    project: str
    stack: str
    program: Callable[[], Any]
    context: RunContext = field(default_factory=RunContext)
    config: Mapping[str, str] = field(default_factory=dict)
    secret_config: Mapping[str, str] = field(default_factory=dict, repr=False)
    message: str = ""
    operation: Operation = "up"
    options: OperationOptions = field(default_factory=OperationOptions)
    multiple_outputs: bool = False
    task: TaskRef | None = None
    task_states: TaskStates | None = field(default=None, repr=False, compare=False)
    plan_basis: PlanBasis | None = field(default=None, repr=False)
    plan_binding: PlanBinding | None = field(default=None, repr=False)


@dataclass(frozen=True)
class OperationResult:
    """What an operation did.

    :param outputs: stack outputs by name (``up`` only; empty otherwise).
    :param changes: resource change counts by op (``create``, ``update``, ``delete``, ``same`` …).
    :param version: the update's version number in the backend, when it reports one (not for previews).
    :param duration_s: wall time of the whole operation, stack selection included.
    :param steps: the steps that change something: ``{"op", "urn", "type", "name"}`` each, with their property
        diff (``diff``, ``replace_keys``; :func:`.diffs.step_diff`).
    :param pending_operations: what a previous, hard-killed update left in flight (as Pulumi reported it).
    :param policy_violations: advisory violations (mandatory ones fail the operation).
    :param stack_removed: ``destroy`` removed the stack.
    :param attempts: how many times the operation was tried (more than one after waiting for a lock).
    :param declared_outputs: the keys of the mapping the program returned, in its order (empty when it
        returned ``None`` or did not run).
    :param resources: the stack's resources after the operation (``{"type", "name", "urn"}`` each; default
        providers and the root stack aside), as the engine's events announced them.
    :param cli_version: the Pulumi CLI's version (``""`` when it did not say).
    :param sdk_version: the Pulumi SDK's version.
    """

    operation: str
    stack: str
    outputs: dict[str, StackOutput]
    changes: dict[str, int]
    version: int | None
    duration_s: float
    steps: list[dict[str, Any]] = field(default_factory=list)
    pending_operations: list[str] = field(default_factory=list)
    policy_violations: list[dict[str, str]] = field(default_factory=list)
    stack_removed: bool = False
    attempts: int = 1
    declared_outputs: tuple[str, ...] = ()
    resources: list[dict[str, str]] = field(default_factory=list)
    cli_version: str = ""
    sdk_version: str = ""

    @property
    def has_changes(self) -> bool:
        return any(n for op, n in self.changes.items() if op not in NO_CHANGE_OPS)
