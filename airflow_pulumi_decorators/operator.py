"""``PulumiStackOperator``: the one place that orders a task's steps.

1. resolve the run's environment, 2. obtain its credential, 3. run the operation on the engine,
4. turn the outputs into XCom, 5. clean up — always.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_pulumi_decorators import checks, operations
from airflow_pulumi_decorators.environments import (
    Environment,
    _is_template,
    resolve_environment,
    validate_environments,
    validate_project_name,
)
from airflow_pulumi_decorators.errors import ConfigurationError, UnknownEnvironmentError
from airflow_pulumi_decorators.lifecycle import stack_name_filter
from airflow_pulumi_decorators.links import URL_ATTRIBUTE, PulumiUpdateLink
from airflow_pulumi_decorators.operations import check_protected, summary_line

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_pulumi_decorators.engine import Engine, OperationResult, RunContext


def _mask(value: str) -> None:
    from airflow.sdk.log import mask_secret

    mask_secret(value)


class PulumiStackOperator(BaseOperator):
    """Run a Python function as a Pulumi inline program on the stack of the run's environment.

    The task's return value (its XCom) is the stack outputs as plain JSON values; secret outputs are
    withheld unless ``push_secret_outputs`` is on. How the operation runs is one argument, ``options``::

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
    :param push_secret_outputs: push secret outputs to XCom (masked in logs) instead of withholding them.
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
        ``up`` (extra: output keys, change counts, version; never values).
    """

    template_fields: Sequence[str] = ("op_args", "op_kwargs", "environment", "stack")
    #: The second XCom every task pushes: what the operation did (see docs/operations.md).
    summary_key = operations.SUMMARY_KEY
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
        cli_path: str | None = None,
        pulumi_command: Any = None,
        pulumi_conn_id: str | None = None,
        operation: str = "up",
        options: operations.OperationOptions | None = None,
        allow_destroy_protected: bool = False,
        emit_asset: bool = True,
        **kwargs: Any,
    ) -> None:
        checks.check_pulumi_command(pulumi_command)
        # The options also work as keywords of their own (lock_wait=600), as @pulumi_stack takes them.
        self.options = operations.task_options(
            operation, options, operations.pop_option_keywords(kwargs), kwargs.get("default_args")
        )
        self.operation = operation
        self.allow_destroy_protected = bool(allow_destroy_protected)
        self.emit_asset = bool(emit_asset) and operation == "up"
        if self.emit_asset:
            from airflow_pulumi_decorators.assets import stack_alias

            # The stack is known only at run time (templated), so the task declares an alias and
            # attaches the concrete asset pulumi://<project>/<stack> to it when it runs.
            kwargs["outlets"] = [*(kwargs.get("outlets") or []), stack_alias(project)]
        super().__init__(**kwargs)
        if not callable(program):
            raise ConfigurationError(f"'program' must be a callable, got {type(program).__name__}")
        self.program = program
        self.project = validate_project_name(project)
        # Typed as DecoratedOperator types them: @pulumi_stack's operator subclasses both.
        self.op_args: Collection[Any] = list(op_args or [])
        self.op_kwargs: Mapping[str, Any] = dict(op_kwargs or {})
        self.environments = validate_environments(environments) if environments is not None else None
        if self.environments is None:
            if not stack:
                raise ConfigurationError(
                    "give 'stack' (e.g. stack='dev') or 'environments' with 'environment' "
                    "(e.g. environment='{{ params.env }}')"
                )
            if environment is not None:
                raise ConfigurationError("'environment' needs 'environments' (a map of name to Environment)")
        else:
            if environment is None and len(self.environments) > 1:
                raise ConfigurationError(
                    f"'environment' is required with several environments ({', '.join(sorted(self.environments))});"
                    " e.g. environment='{{ params.env }}'"
                )
            if isinstance(environment, str) and not _is_template(environment) and environment not in self.environments:
                raise UnknownEnvironmentError(environment, list(self.environments))
        self.stack = stack
        self.environment = environment
        self.push_secret_outputs = bool(push_secret_outputs)
        self.cli_path = cli_path
        self.pulumi_command = pulumi_command
        self.pulumi_conn_id = pulumi_conn_id
        if self.operation == "destroy" and self.environments is not None and isinstance(environment, str | None):
            # Refuse at parse time what is known then; a templated environment is checked at run time.
            names = list(self.environments) if environment is None else [environment]
            for name in names:
                if name in self.environments and not _is_template(name):
                    check_protected(
                        name, self.environments[name], self.options, allow=self.allow_destroy_protected,
                        operation=self.operation, task_id=self.task_id, function=getattr(program, "__name__", ""),
                    )
        self._engine: Engine | None = None
        self._credential: Any = None
        self._kill_requested = False
        self._check_at_parse_time()

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:
        """Airflow's ``partial`` for mapped tasks; option keywords (``lock_wait=600``) become ``options``.

        Airflow checks ``partial``'s and ``expand``'s keywords against the signature, which has ``options``
        only: map over ``options`` (``.expand(options=[...])``) to vary them per mapped task.
        """
        keywords = operations.pop_option_keywords(kwargs)
        if keywords:
            kwargs["options"] = operations.grouped_options(kwargs.get("options"), keywords)
        return super().partial(**kwargs)

    def _check_at_parse_time(self) -> None:
        """What is known when the DAG file is built (see :mod:`airflow_pulumi_decorators.checks`)."""
        #: Arguments that come from upstream tasks: a None from one of them is refused at task start.
        self._upstream_arguments = checks.upstream_arguments(self.program, self.op_args, self.op_kwargs)
        checks.check_names(self)
        checks.check_credential_lifetimes(self)
        checks.check_no_second_up(self, PulumiStackOperator)

    # Steps, each small enough to test alone.

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        if jinja_env is None:
            jinja_env = self.get_template_env()
        # "pr-{{ params.branch | stack_name }}" / "{{ run_id | stack_name }}": any text as a valid stack name.
        jinja_env.filters.setdefault("stack_name", stack_name_filter)
        # Refuses, with the field and the fix, what the run lacks or rendered wrong, and None from upstream.
        checks.render_checked(self, context, jinja_env, super().render_template_fields)

    def _update_message(self, context: Context, environment_name: str, principal: str | None) -> str:
        ti = context["ti"]
        parts = [
            f"dag_id={ti.dag_id}",
            f"run_id={ti.run_id}",
            f"task_id={ti.task_id}",
            f"try={ti.try_number}",
            f"environment={environment_name}",
            f"operation={self.operation}",
        ]
        if getattr(ti, "map_index", -1) not in (-1, None):
            parts.insert(3, f"map_index={ti.map_index}")
        parts.append(f"identity={principal or 'worker-default'}")
        return "airflow: " + " ".join(parts)

    def _bound_program(self, context: Context) -> Callable[[], Any]:
        from airflow_pulumi_decorators._airflow import determine_kwargs

        kwargs = determine_kwargs(self.program, self.op_args, {**context, **self.op_kwargs})
        return functools.wraps(self.program)(functools.partial(self.program, *self.op_args, **kwargs))

    def _credential_budget(self) -> datetime.timedelta | None:
        """How long the credential must last: the task's ``execution_timeout``, else ``[pulumi] credential_budget``."""
        if self.execution_timeout is not None:
            return self.execution_timeout
        from airflow_pulumi_decorators import settings

        configured = settings.get_option("credential_budget")
        if not configured:
            return None
        try:
            return datetime.timedelta(seconds=float(configured))
        except ValueError:
            raise ConfigurationError(
                f"[pulumi] credential_budget={configured!r} is not a number of seconds"
            ) from None

    @contextlib.contextmanager
    def _credentials(self, env: Environment) -> Iterator[tuple[dict[str, str | None], str | None]]:
        """Yield ``(engine env vars, principal)`` for the environment's identity; always cleans up."""
        if env.identity is None:
            yield {}, None
            return
        from airflow_pulumi_decorators.identity import obtain_engine_credentials

        credential = obtain_engine_credentials(
            env.identity,
            project=env.gcp_project,
            mode=env.credential_mode,
            budget=self._credential_budget(),
            mask=_mask,
        )
        self._credential = credential
        try:
            with credential:
                self.log.info(
                    "pulumi: identity %s acts as %s (%s mode%s)",
                    credential.identity,
                    credential.principal,
                    credential.mode.value,
                    f", token expires {credential.expires_at:%Y-%m-%dT%H:%M:%SZ}" if credential.expires_at else "",
                )
                yield credential.env, credential.principal
        finally:
            self._credential = None

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_pulumi_decorators import settings
        from airflow_pulumi_decorators.backend import engine_settings
        from airflow_pulumi_decorators.engine import OperationRequest
        from airflow_pulumi_decorators.outputs import to_xcom, warn_missing_outputs

        setattr(self, URL_ATTRIBUTE, None)  # the extra link: no URL until an update reports one
        env_name, env = resolve_environment(
            environments=self.environments, environment=self.environment, stack=self.stack
        )
        check_protected(
            env_name, env, self.options, allow=self.allow_destroy_protected, operation=self.operation,
            task_id=self.task_id, function=getattr(self.program, "__name__", ""),
        )
        for value in env.secret_config.values():
            _mask(value)
        with engine_settings(
            env, pulumi_conn_id=self.pulumi_conn_id, mask=_mask, project=self.project
        ) as engine_cfg, self._credentials(env) as (credential_env, principal):
            self.log.info(
                "pulumi: %s project=%s stack=%s environment=%s backend=%s",
                self._what(),
                self.project,
                engine_cfg.stack,
                env_name,
                engine_cfg.backend_url,
            )
            self._engine = self._make_engine(
                cli_path=self.cli_path or settings.get_option("cli_path"),
                pulumi_command=self.pulumi_command,
                on_output=self.log.info,
                on_warning=self.log.warning,
            )
            if self._kill_requested:  # killed before the engine existed (after it, on_kill stops the engine)
                self._engine.stop()
            message = self._update_message(context, env_name, principal)
            try:
                result = self._engine.run(
                    OperationRequest(
                        project=self.project,
                        stack=engine_cfg.stack,
                        program=self._bound_program(context),
                        context=engine_cfg.context.with_env(credential_env),
                        config=env.config,
                        secret_config=env.secret_config,
                        message=message,
                        operation=self.operation,
                        options=self._options_for_run(engine_cfg),
                        multiple_outputs=bool(getattr(self, "multiple_outputs", False)),
                    )
                )
            finally:
                self._engine = None
        self._log_summary(result)
        summary = self._summary(result, env_name, engine_cfg.context, message)
        self.log.info("pulumi summary: %s", summary_line(summary))
        context["ti"].xcom_push(key=self.summary_key, value=summary)
        setattr(self, URL_ATTRIBUTE, summary["url"])
        if result.policy_violations:
            for v in result.policy_violations:
                self.log.warning(
                    "pulumi policy (%s) %s/%s: %s", v["level"], v["policy_pack"], v["policy"], v["message"]
                )
        if self.operation != "up":
            return operations.summary_return(result)
        outputs = to_xcom(
            result.outputs, push_secrets=self.push_secret_outputs, mask=_mask, log=self.log.info,
            multiple_outputs=bool(getattr(self, "multiple_outputs", False)),
        )
        warn_missing_outputs(result.declared_outputs, result.outputs, warn=self.log.warning)
        if self.emit_asset:
            from airflow_pulumi_decorators.assets import emit_stack_event

            emit_stack_event(context, self.project, result, log=self.log.info)
        return outputs

    def _make_engine(self, **settings: Any) -> Engine:
        """The engine that runs this task's operation: :class:`~airflow_pulumi_decorators.engine.Engine`.

        A test's subclass returns a fake one instead: anything with ``run(request) -> result`` and ``stop()``.
        """
        from airflow_pulumi_decorators.engine import Engine

        return Engine(**settings)

    def _options_for_run(self, engine_cfg: Any) -> Any:
        """The task's options, with ``[pulumi] refresh_before_up`` applied to ``up``."""
        if self.operation == "up" and engine_cfg.refresh and not self.options.refresh:
            return dataclasses.replace(self.options, refresh=True)
        return self.options

    def _summary(
        self, result: OperationResult, env_name: str, run: RunContext, message: str
    ) -> operations.Summary:
        from airflow_pulumi_decorators.links import update_url

        return operations.summary(
            result, project=self.project, environment=env_name, backend=run.backend_text, message=message,
            url=update_url(run.backend, self.project, result.stack, result.version),
        )

    def _what(self) -> str:
        """The operation as the log names it: a preview or refresh with ``expect_no_changes`` is a drift check."""
        if self.options.expect_no_changes:
            refresh = ", refresh first" if self.options.refresh else ""
            return f"drift check ({self.operation}{refresh}; fails on any change)"
        return self.operation

    def _log_summary(self, result: OperationResult) -> None:
        changes = ", ".join(f"{op}={n}" for op, n in sorted(result.changes.items())) or "none"
        self.log.info(
            "pulumi %s on stack %s: changes: %s; version=%s; %.1fs",
            self._what(),
            result.stack,
            changes,
            result.version,
            result.duration_s,
        )

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
        credential = self._credential
        if credential is not None:
            credential.close()

