"""``PulumiStackOperator``: the one place that orders a task's steps.

At parse time it checks its arguments (:mod:`airflow_pulumi_decorators.checks`). When it runs: resolve the
run's environment → prepare the engine run (:mod:`~airflow_pulumi_decorators.prepare`: connection, backend,
``PULUMI_HOME``, credential, bound program) → run it on the engine (:mod:`~airflow_pulumi_decorators.engine`)
→ report what it did (:mod:`~airflow_pulumi_decorators.publish`: summary, XCom, asset event, link). Everything
prepared is removed afterwards, whatever happened.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_pulumi_decorators import checks
from airflow_pulumi_decorators.assets import declared_stack_asset, drift_alias, stack_alias
from airflow_pulumi_decorators.environments import (
    Environment,
    resolve_environment,
    validate_environments,
    validate_project_name,
)
from airflow_pulumi_decorators.errors import ConfigurationError
from airflow_pulumi_decorators.lifecycle import stack_name_filter
from airflow_pulumi_decorators.operations import (
    SUMMARY_KEY,
    Operation,
    OperationOptions,
    SecretOutputs,
    check_protected,
    check_secret_outputs,
    pop_option_keywords,
)
from airflow_pulumi_decorators.publish.links import URL_ATTRIBUTE, PulumiUpdateLink

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_pulumi_decorators.engine import Engine, OperationRequest, OperationResult
    from airflow_pulumi_decorators.prepare import PreparedRun


def _mask(value: str) -> None:
    from airflow.sdk.log import mask_secret

    mask_secret(value)


def _check_push_secret_outputs(push: object, secret_outputs: str) -> bool:
    """``push_secret_outputs``: deprecated (a warning when the DAG is parsed), refused next to a reference."""
    if not push:
        return False
    if secret_outputs == "reference":
        raise ConfigurationError(
            "both 'push_secret_outputs=True' and \"secret_outputs='reference'\" were given; drop "
            "push_secret_outputs: a reference hands the secret on without storing its value"
        )
    warnings.warn(
        "push_secret_outputs=True is deprecated: it stores secret outputs in plain text in Airflow's metadata "
        "database (shown in the UI's XCom view) and masks them only in the producing task's log, not in the tasks "
        "that read them. Use secret_outputs='reference' (docs/outputs.md, 'Passing a secret downstream').",
        FutureWarning,
        stacklevel=4,
    )
    return True


class PulumiStackOperator(BaseOperator):
    """Run a Python function as a Pulumi inline program on the stack of the run's environment.

    The task's return value (its XCom) is the stack outputs as plain JSON values; secret outputs are
    withheld (the key with a marker naming the output and the fix, never the value), or pushed as references
    with ``secret_outputs="reference"``. How the operation runs is one argument, ``options``::

        PulumiStackOperator(
            task_id="storage_destroy", program=storage, project="analytics-infra", stack="dev",
            operation="destroy", options=OperationOptions(remove_stack=True, lock_wait=600),
        )

    :param program: the function that declares resources; it returns a dict of stack outputs (or calls
        ``pulumi.export``) and may take Airflow context keys (``params``, ``run_id`` …) as arguments.
    :param project: the Pulumi project name.
    :param op_args: positional arguments for ``program`` (templated; XComArgs are resolved first).
    :param op_kwargs: keyword arguments for ``program`` (templated; XComArgs are resolved first).
    :param stack: the stack name (templated). Without ``environments`` it is required; with them it
        overrides the environment's stack (per-run stacks).
    :param environments: environment name to :class:`~airflow_pulumi_decorators.Environment`.
    :param environment: which environment this run uses (templated, e.g. ``"{{ params.env }}"``); may be
        omitted when ``environments`` has exactly one entry.
    :param secret_outputs: what the task pushes for a secret output: ``"withhold"`` (default: the key with
        ``None``) or ``"reference"`` (where the output is — project, stack, backend, key — never its value; a
        downstream task resolves it from the stack's state and masks it, see docs/outputs.md).
    :param push_secret_outputs: deprecated: pushes secret outputs to XCom in plain text (stored unencrypted in
        Airflow's metadata database, masked only in this task's log). Use ``secret_outputs="reference"``.
    :param cli_path: the ``pulumi`` executable (file or folder); defaults to ``[pulumi] cli_path``, then PATH.
    :param pulumi_command: a ready ``pulumi.automation.PulumiCommand`` to use instead of a CLI, e.g.
        :class:`airflow_pulumi_decorators.testing.StandinCommand` in tests, or a stock
        ``PulumiCommand(root=...)``. A stock one merges the worker's environment back in, so the credential
        variables the library removes reach it set empty (read as unset); a command that drops a ``None``
        value itself says so with a class attribute ``removes_unset_env = True``.
        ``cli_path`` and ``pulumi_command`` choose the engine, not how the operation runs, and a task gives
        one of them at most (usually neither): they stay keywords of their own rather than a group.
    :param pulumi_conn_id: the ``pulumi`` connection (backend, access token, passphrase) for environments
        that do not name their own.
    :param operation: ``up`` (default), ``preview`` (plan only; returns the planned changes and steps),
        ``refresh`` (read the cloud into the state) or ``destroy`` (delete the stack's resources).
    :param options: how the operation runs:
        :class:`~airflow_pulumi_decorators.OperationOptions` (``refresh``, ``expect_no_changes``, ``lock_wait``,
        ``policy_packs``, ``remove_stack`` …, see docs/operations.md), e.g.
        ``options=OperationOptions(refresh=True, lock_wait=600)``. An option that does not apply to
        ``operation`` fails when the DAG is parsed. Each option also works as a keyword of its own
        (``lock_wait=600``), the form ``@pulumi_stack`` and ``.override()`` take; giving ``options`` and such
        a keyword together is a ``ConfigurationError`` naming both.
    :param allow_destroy_protected: let ``destroy`` run on a protected environment (refused otherwise). A
        keyword of its own, not an option, so allowing it is visible on the task.
    :param emit_asset: emit an Airflow asset event ``pulumi://<project>/<stack>`` after each successful
        ``up`` (extra: output keys, change counts, version; never values), and
        ``pulumi-drift://<project>/<stack>`` after each successful drift check (``drift_check``, or a
        ``refresh`` with ``preview_only``; extra: ``drift``, ``changes``, ``resources``).
    :param drift_check: the task is a drift check (a ``preview`` with ``refresh``; set by ``.drift_check()``):
        it emits the stack's drift event. A plain preview with refresh (the one before an approval) emits
        none, so a remediation DAG scheduled on drift does not trigger itself.
    """

    template_fields: Sequence[str] = ("op_args", "op_kwargs", "environment", "stack")
    #: The second XCom every task pushes: what the operation did (see docs/operations.md).
    summary_key = SUMMARY_KEY
    template_fields_renderers = {"op_args": "py", "op_kwargs": "py"}
    shallow_copy_attrs: Sequence[str] = ("program", "pulumi_command")
    ui_color = "#d7c6f5"
    operator_extra_links = (PulumiUpdateLink(),)

    def __init__(
        self,
        *,
        program: Callable[..., Any],
        project: str,
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        stack: str | None = None,
        environments: Mapping[str, Environment] | None = None,
        environment: str | None = None,
        push_secret_outputs: bool = False,
        secret_outputs: SecretOutputs = "withhold",
        cli_path: str | None = None,
        pulumi_command: Any = None,
        pulumi_conn_id: str | None = None,
        operation: Operation = "up",
        options: OperationOptions | None = None,
        allow_destroy_protected: bool = False,
        emit_asset: bool = True,
        drift_check: bool = False,
        **kwargs: Any,
    ) -> None:
        checks.check_pulumi_command(pulumi_command)
        # The options also work as keywords of their own (lock_wait=600), as @pulumi_stack takes them.
        self.options = OperationOptions.for_task(
            operation, options, pop_option_keywords(kwargs), default_args=kwargs.get("default_args")
        )
        self.operation = operation
        self.allow_destroy_protected = bool(allow_destroy_protected)
        if drift_check and (operation != "preview" or not self.options.refresh):
            raise ConfigurationError(
                f"'drift_check'=True needs operation='preview' with refresh=True, got operation={operation!r}"
                f"{'' if operation != 'preview' else ' without refresh'}; use .drift_check(...) of a @pulumi_stack "
                "function, or refresh(preview_only=True)"
            )
        self.drift_check = bool(drift_check) or (operation == "refresh" and self.options.preview_only)
        self.emit_asset = bool(emit_asset) and operation == "up"
        self.emit_drift_event = bool(emit_asset) and self.drift_check
        if self.emit_asset or self.emit_drift_event:
            # The stack is known only at run time (templated), so the task declares an alias and
            # attaches the concrete asset pulumi://<project>/<stack> (pulumi-drift://… for a drift check)
            # to it when it runs.
            alias = drift_alias(project) if self.emit_drift_event else stack_alias(project)
            # A stack known now is declared too: Airflow names a producing task from declared outlets only.
            known = None if self.emit_drift_event else declared_stack_asset(project, stack, environment, environments)
            kwargs["outlets"] = [*(kwargs.get("outlets") or []), alias, *([known] if known is not None else [])]
        super().__init__(**kwargs)
        self.program = checks.check_program(program)
        self.project = validate_project_name(project)
        # Typed as DecoratedOperator types them: @pulumi_stack's operator subclasses both.
        self.op_args: Collection[Any] = list(op_args or [])
        self.op_kwargs: Mapping[str, Any] = dict(op_kwargs or {})
        self.environments = validate_environments(environments) if environments is not None else None
        self.stack = stack
        self.environment = environment
        self.secret_outputs = check_secret_outputs(secret_outputs)
        self.push_secret_outputs = _check_push_secret_outputs(push_secret_outputs, self.secret_outputs)
        self.cli_path = cli_path
        self.pulumi_command = pulumi_command
        self.pulumi_conn_id = pulumi_conn_id
        self._engine: Engine | None = None
        self._run: PreparedRun | None = None
        self._kill_requested = False
        #: Arguments that come from upstream tasks: a None from one of them is refused at task start.
        self._upstream_arguments = checks.at_parse_time(self, PulumiStackOperator)

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:
        """Airflow's ``partial`` for mapped tasks; option keywords (``lock_wait=600``) become ``options``.

        Airflow checks ``partial``'s and ``expand``'s keywords against the signature, which has ``options``
        only: map over ``options`` (``.expand(options=[...])``) to vary them per mapped task.
        """
        keywords = pop_option_keywords(kwargs)
        if keywords:
            kwargs["options"] = OperationOptions.for_task(None, kwargs.get("options"), keywords)
        checks.check_mapped_up(str(kwargs.get("task_id", "")), kwargs, None)
        return super().partial(**kwargs)

    # Steps, each small enough to test alone.

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        if jinja_env is None:
            jinja_env = self.get_template_env()
        # "pr-{{ params.branch | stack_name }}" / "{{ run_id | stack_name }}": any text as a valid stack name.
        jinja_env.filters.setdefault("stack_name", stack_name_filter)
        # Refuses, with the field and the fix, what the run lacks or rendered wrong, and None from upstream.
        checks.render_checked(self, context, jinja_env, super().render_template_fields)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_pulumi_decorators import publish
        from airflow_pulumi_decorators.prepare import prepare_run

        setattr(self, URL_ATTRIBUTE, None)  # the extra link: no URL until an update reports one
        environment = self._environment()
        with prepare_run(self, context, environment, mask=_mask) as run:
            self._run = run
            try:
                result = self._run_engine(run.request)
            finally:
                self._run = None
        summary = publish.report(run.request, result, environment=run.environment, context=context, log=self.log)
        setattr(self, URL_ATTRIBUTE, summary["url"])
        return publish.task_value(
            run.request, result, context=context, push_secret_outputs=self.push_secret_outputs,
            emit_asset=self.emit_asset, emit_drift_event=self.emit_drift_event, log=self.log, mask=_mask,
            secret_outputs=self.secret_outputs, environment=run.environment, conn_id=run.conn_id,
            identity=environment[1].identity,
        )

    def _environment(self) -> tuple[str, Environment]:
        """The run's environment (its name and :class:`Environment`); ``destroy`` of a protected one is refused."""
        name, env = resolve_environment(environments=self.environments, environment=self.environment, stack=self.stack)
        check_protected(
            name, env, self.options, allow=self.allow_destroy_protected, operation=self.operation,
            task_id=self.task_id, function=getattr(self.program, "__name__", ""),
        )
        return name, env

    def _run_engine(self, request: OperationRequest) -> OperationResult:
        """Run the request on a new engine, which :meth:`on_kill` stops while it runs."""
        from airflow_pulumi_decorators import settings

        self._engine = self._make_engine(
            cli_path=self.cli_path or settings.get_option("cli_path"),
            pulumi_command=self.pulumi_command,
            on_output=self.log.info,
            on_warning=self.log.warning,
            on_error=self.log.error,
        )
        try:
            if self._kill_requested:  # killed before the engine existed (after it, on_kill stops the engine)
                self._engine.stop()
            return self._engine.run(request)
        finally:
            self._engine = None

    def _make_engine(self, **settings: Any) -> Engine:
        """The engine that runs this task's operation: :class:`~airflow_pulumi_decorators.engine.Engine`.

        A test's subclass returns a fake one instead: anything with ``run(request) -> result`` and ``stop()``.
        """
        from airflow_pulumi_decorators.engine import Engine

        return Engine(**settings)

    def on_kill(self) -> None:
        self._kill_requested = True  # Airflow's SIGTERM handler only calls on_kill: the task itself goes on
        engine = self._engine
        if engine is not None:
            self.log.warning(
                "pulumi: task is being stopped; interrupting the engine so it writes state and releases its lock "
                "(escalating after %.0fs)",
                self.options.kill_grace_period,
            )
            outcome = engine.stop()
            if outcome:
                self.log.warning("pulumi: engine stop outcome: %s", outcome)
        run = self._run
        if run is not None and run.credential is not None:
            run.credential.close()

