"""``@pulumi_stack`` (also ``@task.pulumi_stack``): a thin decorator over :class:`PulumiStackOperator`."""

from __future__ import annotations

import functools
import inspect
import os
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk.bases.decorator import DecoratedOperator, task_decorator_factory

from airflow_pulumi_decorators.environments import (
    FrozenMapping,
    _TEMPLATE_PART,
    Environment,
    _is_template,
    environment_name,
    validate_stack_name,
)
from airflow_pulumi_decorators.errors import ConfigurationError
from airflow_pulumi_decorators.operator import PulumiStackOperator

if TYPE_CHECKING:
    from airflow.sdk import Context, XComArg
    from airflow.sdk.bases.decorator import TaskDecorator


class _PulumiStackDecoratedOperator(DecoratedOperator, PulumiStackOperator):
    """Wraps the decorated function as the inline program of a :class:`PulumiStackOperator`."""

    template_fields = PulumiStackOperator.template_fields
    template_fields_renderers = PulumiStackOperator.template_fields_renderers
    shallow_copy_attrs = ("python_callable", *PulumiStackOperator.shallow_copy_attrs)
    custom_operator_name = "@pulumi_stack"

    def __init__(self, *, python_callable: Callable[..., Any], op_args=None, op_kwargs=None, **kwargs) -> None:
        _check_pulumi_command(kwargs.get("pulumi_command"))
        super().__init__(
            kwargs_to_upstream={"program": python_callable, "op_args": op_args, "op_kwargs": op_kwargs},
            python_callable=python_callable,
            op_args=op_args,
            op_kwargs=op_kwargs,
            **kwargs,
        )
        #: Arguments that come from upstream tasks: a None from one of them is refused at task start.
        self._upstream_arguments = _upstream_arguments(python_callable, self.op_args, self.op_kwargs)
        self._check_names()
        self._check_credential_lifetimes()
        _check_no_second_up(self)

    # Parse time: what is known when the DAG file is built.

    def _check_names(self) -> None:
        """A fully qualified stack must name the task's own project."""
        if isinstance(self.stack, str):
            validate_stack_name(self.stack, project=self.project)
        for name, env in (self.environments or {}).items():
            validate_stack_name(env.stack, parameter=f"environments[{name!r}].stack", project=self.project)

    def _check_credential_lifetimes(self) -> None:
        """A token that cannot outlive ``execution_timeout`` fails now rather than in every run."""
        if self.execution_timeout is None:
            return
        from airflow_pulumi_decorators.identity.handoff import check_lifetime_covers

        for env in (self.environments or {}).values():
            if env.identity is not None and env.credential_mode == "token":
                check_lifetime_covers(env.identity, self.execution_timeout, task_id=self.task_id)

    # Task start: templates are rendered, upstream values are known.

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        if jinja_env is None:
            jinja_env = self.get_template_env()
        raw = {name: getattr(self, name) for name in ("stack", "environment")}
        try:
            super().render_template_fields(context, jinja_env)
        except Exception as exc:
            if _missing_key(exc) is None:
                raise
            raise _undefined_error(self, context, jinja_env, exc) from None
        _check_rendered_stack(raw["stack"], self.stack)
        _check_rendered_environment(raw["environment"], self.environment, self.environments)
        self._check_upstream_values()
        self._render_environment_config(context, jinja_env)

    def _check_upstream_values(self) -> None:
        for label, source in self._upstream_arguments.items():
            kind, key = label
            value = self.op_args[key] if kind == "arg" else self.op_kwargs.get(key)
            if value is None:
                name = key if kind == "kwarg" else _positional_name(self.python_callable, key)
                raise ConfigurationError(
                    f"argument {name!r} of {self.task_id!r} comes from {source}, which gave None; the program would "
                    f"run with {name}=None. Make the upstream task return a value (check its return value or XCom "
                    f"key), or, if None is a value the program handles, say so with a default: {name}=None in its signature."
                )

    def _render_environment_config(self, context: Context, jinja_env: Any) -> None:
        """Render templates in the run's environment's config and secret config (never stored as rendered fields)."""
        if not self.environments:
            return
        try:
            name = environment_name(self.environments, self.environment)
        except ConfigurationError:
            return  # execute() raises the same error, with the operator's own context
        env = self.environments[name]
        from airflow.sdk.log import mask_secret

        def render(field: str, key: str, template: str) -> Any:
            if field == "secret_config":
                mask_secret(template)  # it may be a literal secret that merely contains '{{'
            try:
                value = self.render_template(template, context, jinja_env)
            except Exception as exc:  # never chained or quoted: the text may be a secret
                missing = _missing_key(exc)
                if missing is not None:
                    raise ConfigurationError(
                        f"Environment {name!r} {field}[{key!r}]: its template reads {missing!r}, which this run "
                        f"does not have; {_DEFINE_IT.format(key=missing)}"
                    ) from None
                raise ConfigurationError(
                    f"Environment {name!r} {field}[{key!r}] contains '{{{{' or '{{%' and is rendered as a Jinja "
                    f"template, which failed ({type(exc).__name__}). If it is a literal value (Go or Helm template "
                    "text, a password), wrap it in {% raw %}...{% endraw %}."
                ) from None
            if field == "secret_config":
                mask_secret(str(value))
            return value

        rendered = env.render_config(render)
        if rendered is not env:
            self.environments = FrozenMapping({**self.environments, name: rendered})


class PulumiStackTask:
    """A ``@pulumi_stack`` function: call it for ``up``; ``.preview``/``.refresh``/``.destroy``/``.drift_check``
    run the other operations on the same program and stack; ``.ephemeral`` pairs ``up`` with its teardown.

    Each method takes the program's arguments and returns the task's ``XComArg``. Task options go through
    :meth:`override` (e.g. ``storage.override(lock_wait=600).destroy(region="EU")``). Everything else
    (``expand``, ``partial`` …) is Airflow's own ``_TaskDecorator``.
    """

    _FORWARDED = frozenset({"is_setup", "is_teardown", "on_failure_fail_dagrun"})

    def __init__(self, decorator: Any) -> None:
        object.__setattr__(self, "_decorator", decorator)
        functools.update_wrapper(self, decorator.function, updated=())

    def __call__(self, *args: Any, **kwargs: Any) -> XComArg:
        self._require_dag("")
        return self._decorator(*args, **kwargs)

    def _require_dag(self, method: str) -> None:
        """Refuse to create a task where Airflow would make one that belongs to no DAG and never runs."""
        from airflow.sdk import get_current_context
        from airflow.sdk.definitions._internal.contextmanager import DagContext

        if DagContext.get_current() is not None or self._decorator.kwargs.get("dag") is not None:
            return
        call = f"{self.__name__}{method}(...)"
        try:
            running = get_current_context()["ti"].task_id
        except Exception:  # noqa: BLE001 - no running task: a module-level call
            running = None
        if running is not None:
            raise ConfigurationError(
                f"{call} was called inside the running task {running!r}: a task cannot create another task at run "
                f"time, so nothing would be deployed. Call {call} in the DAG body (inside `with DAG(...)` or the "
                "@dag function) and pass data between the tasks as arguments (XComs)."
            )
        raise ConfigurationError(
            f"{call} was called outside a DAG, so the task would belong to no DAG and never run. Call it inside "
            "`with DAG(...):` or a @dag-decorated function (or pass dag=... through .override(dag=my_dag))."
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._decorator, name)

    def __setattr__(self, name: str, value: Any) -> None:
        # Airflow's @setup/@teardown set these on the decorator object.
        if name in self._FORWARDED:
            setattr(self._decorator, name, value)
        else:
            object.__setattr__(self, name, value)

    @property
    def task_id(self) -> str:
        return str(self._decorator.kwargs.get("task_id") or self._decorator.function.__name__)

    def override(self, **kwargs: Any) -> PulumiStackTask:
        """A copy with other task options (``task_id``, ``lock_wait``, ``pool`` …)."""
        return PulumiStackTask(self._decorator.override(**kwargs))

    def _operation(self, operation: str, args: tuple, kwargs: dict, **options: Any) -> XComArg:
        given = self._decorator.kwargs
        task_id = given.get("task_id") if given.get("operation") == operation else None
        options.setdefault("task_id", task_id or f"{self.task_id}_{operation}")
        self._require_dag(f".{operation}")
        return self._decorator.override(operation=operation, **options)(*args, **kwargs)

    def up(self, *args: Any, **kwargs: Any) -> XComArg:
        """Deploy (the same as calling the function); XCom: the stack outputs."""
        self._require_dag(".up")
        return self._decorator.override(operation="up")(*args, **kwargs)

    def preview(self, *args: Any, **kwargs: Any) -> XComArg:
        """Plan without changing anything; XCom: ``changes``, ``has_changes``, ``steps`` (task id ``<fn>_preview``)."""
        return self._operation("preview", args, kwargs)

    def refresh(self, *args: Any, **kwargs: Any) -> XComArg:
        """Read the cloud into the state (task id ``<fn>_refresh``)."""
        return self._operation("refresh", args, kwargs)

    def destroy(self, *args: Any, **kwargs: Any) -> XComArg:
        """Delete the stack's resources (task id ``<fn>_destroy``); refused on protected environments."""
        return self._operation("destroy", args, kwargs)

    def drift_check(self, *args: Any, **kwargs: Any) -> XComArg:
        """Refresh from the cloud and preview the program: fails with ``DriftDetectedError`` on any change.

        Catches both kinds of drift: the cloud changed behind Pulumi's back, and the code changed without an
        ``up``. Task id ``<fn>_drift_check``.
        """
        return self._operation(
            "preview", args, kwargs, refresh=True, expect_no_changes=True, task_id=f"{self.task_id}_drift_check"
        )

    def with_approval(self, *args: Any, approval: dict[str, Any] | None = None, **kwargs: Any) -> XComArg:
        """``preview`` → human approval of the planned changes (Airflow HITL) → ``up``; returns the ``up``.

        "Reject" skips the ``up`` (and what depends on it). Use it for protected environments.

        :param approval: ``ApprovalOperator`` arguments (``subject``, ``assigned_users``,
            ``response_timeout``, ``notifiers`` …).
        """
        from airflow_pulumi_decorators.approvals import approval_gate

        plan = self.preview(*args, **kwargs)
        gate = approval_gate(plan, **(approval or {}))
        up = self.up(*args, **kwargs)
        gate >> up
        return up

    def ephemeral(self, *args: Any, remove_stack: bool = True, **kwargs: Any) -> EphemeralStack:
        """``up`` as an Airflow setup task and ``destroy`` (same program, stack and arguments) as its teardown.

        The teardown runs even when the work in between fails. Use as a context manager; the tasks created
        inside are the work::

            with storage.ephemeral(region="EU") as infra:
                load(infra["bucket"])

        :param remove_stack: remove the stack after destroying its resources (default: on).
        """
        self._require_dag(".ephemeral")
        up = self._decorator.override(operation="up")(*args, **kwargs)
        down = self._decorator.override(
            operation="destroy", remove_stack=remove_stack, task_id=f"{self.task_id}_teardown"
        )(*args, **kwargs)
        down.as_teardown(setups=up.operator)
        return EphemeralStack(up, down)


class EphemeralStack:
    """An ``up`` setup task and its ``destroy`` teardown (from :meth:`PulumiStackTask.ephemeral`).

    :param setup: the ``up`` task's XComArg (its outputs: ``infra["bucket"]``).
    :param teardown: the ``destroy`` task's XComArg.
    """

    def __init__(self, setup: XComArg, teardown: XComArg) -> None:
        self.setup = setup
        self.teardown = teardown

    def __getitem__(self, key: str) -> XComArg:
        return self.setup[key]

    def __enter__(self) -> XComArg:
        self.teardown.__enter__()
        return self.setup

    def __exit__(self, *exc: object) -> None:
        self.teardown.__exit__(*exc)


def pulumi_stack(
    python_callable: Callable[..., Any] | None = None,
    multiple_outputs: bool | None = None,
    **kwargs: Any,
) -> TaskDecorator:
    """Turn a function that declares Pulumi resources into an Airflow task that deploys them.

    The function runs as a Pulumi inline program on the stack of the run's environment; what it returns
    (a dict of Outputs or plain values) becomes the stack outputs and the task's XCom, one key each, so
    ``infra["bucket"]`` chains into downstream tasks. Parameters are those of
    :class:`~airflow_pulumi_decorators.operator.PulumiStackOperator` (``project``, ``stack``,
    ``environments``, ``environment``, ``push_secret_outputs`` …) plus any ``BaseOperator`` argument.

    :param python_callable: the function (when used as ``@pulumi_stack`` without arguments).
    :param multiple_outputs: push each output as its own XCom key; on by default.
    """
    made = task_decorator_factory(
        python_callable=python_callable,
        multiple_outputs=True if multiple_outputs is None else multiple_outputs,
        decorated_operator_class=_PulumiStackDecoratedOperator,
        **kwargs,
    )
    if python_callable is not None:
        return PulumiStackTask(made)  # type: ignore[return-value]

    @functools.wraps(made)
    def wrap(function: Callable[..., Any]) -> PulumiStackTask:
        return PulumiStackTask(made(function))

    return wrap  # type: ignore[return-value]


# -- checks shared by the decorated operator --------------------------------------------------------------


def _check_pulumi_command(value: Any) -> None:
    if value is None:
        return
    if isinstance(value, (str, bytes, os.PathLike)):
        raise ConfigurationError(
            f"'pulumi_command'={os.fsdecode(value)!r} is a path; pulumi_command takes a ready "
            "pulumi.automation.PulumiCommand object. For a path use cli_path=... (the executable or its folder), "
            "or wrap it: pulumi_command=PulumiCommand(root='/opt/pulumi')."
        )
    if isinstance(value, type):
        raise ConfigurationError(
            f"'pulumi_command'={value.__name__} is a class; pass an instance, e.g. pulumi_command={value.__name__}()"
        )
    if not callable(getattr(value, "run", None)):
        raise ConfigurationError(
            f"'pulumi_command' must be a pulumi.automation.PulumiCommand (e.g. PulumiCommand(root='/opt/pulumi'), "
            f"or airflow_pulumi_decorators.testing.StandinCommand() in tests), got {type(value).__name__}; "
            "for a path use cli_path=..."
        )


def _upstream_arguments(function: Callable[..., Any], op_args: list, op_kwargs: dict) -> dict[tuple[str, Any], str]:
    """``{("arg", index) | ("kwarg", name): "upstream task 'x'"}`` for the arguments that are XComArgs."""
    from airflow.sdk.definitions.xcom_arg import XComArg

    def source(value: XComArg) -> str:
        operator = getattr(value, "operator", None)
        key = getattr(value, "key", None)
        task = f"upstream task {operator.task_id!r}" if operator is not None else "an upstream task"
        return f"{task} (XCom key {key!r})" if key and key != "return_value" else task

    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    # A parameter that defaults to None says None is a value the program expects.
    takes_none = {p.name for p in parameters if p.default is None}
    found: dict[tuple[str, Any], str] = {}
    for index, value in enumerate(op_args):
        if isinstance(value, XComArg) and not (index < len(parameters) and parameters[index].name in takes_none):
            found[("arg", index)] = source(value)
    for name, value in op_kwargs.items():
        if isinstance(value, XComArg) and name not in takes_none:
            found[("kwarg", name)] = source(value)
    return found


def _positional_name(function: Callable[..., Any], index: int) -> str:
    try:
        params = list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return f"#{index}"
    return params[index] if index < len(params) else f"#{index}"


_DEFINE_IT = (
    "define it (a DAG param, a key of the run's conf, or an Airflow Variable) or give a default: "
    "{{{{ params.get({key!r}, ...) }}}}, {{{{ dag_run.conf.get({key!r}, ...) }}}} or {{{{ var.value.get({key!r}, ...) }}}}"
)


def _missing_key(exc: BaseException) -> str | None:
    """The name a template read and the run lacks (Jinja's undefined, a missing Variable), else ``None``."""
    import jinja2

    if isinstance(exc, jinja2.UndefinedError):
        found = re.search(r"has no attribute '([^']+)'|'([^']+)' is undefined", exc.message or "")
        return (found.group(1) or found.group(2)) if found else "?"
    error = getattr(exc, "error", None)
    if getattr(getattr(error, "error", None), "name", None) == "VARIABLE_NOT_FOUND":
        found = re.search(r"Variable (\S+) not found", str(getattr(error, "detail", "")))
        return found.group(1) if found else "?"
    return None


def _undefined_error(task: Any, context: Any, jinja_env: Any, exc: Exception) -> ConfigurationError:
    """Name the template field, the template and the key behind a template that read something undefined."""

    def failing(value: Any) -> Any:
        """The first template inside ``value`` that reads something undefined, or ``None``."""
        if isinstance(value, str):
            if not _is_template(value):
                return None
            try:
                task.render_template(value, context, jinja_env)
            except Exception as error:  # noqa: BLE001 - only the kind _missing_key knows counts
                return value if _missing_key(error) is not None else None
            return None
        items = value.values() if isinstance(value, Mapping) else value if isinstance(value, (list, tuple)) else ()
        return next((found for found in map(failing, items) if found is not None), None)

    field, template = "?", None
    for name in task.template_fields:
        template = failing(getattr(task, name, None))
        if template is not None:
            field = name
            break
    key = _missing_key(exc)
    return ConfigurationError(
        f"task {task.task_id!r}: the template {template!r} of {field!r} reads {key!r}, which this run does not "
        f"have; {_DEFINE_IT.format(key=key)}"
    )


def _check_rendered_stack(template: Any, rendered: Any) -> None:
    if not (isinstance(template, str) and _is_template(template)):
        return
    if not isinstance(rendered, str) or not rendered.strip():
        raise ConfigurationError(
            f"'stack' template {template!r} rendered to {rendered!r} (an empty or missing param / conf value?); "
            "make sure what it refers to is set for this run, or give a default, e.g. "
            "{{ params.get('branch', 'main') | stack_name }}"
        )
    literal = _TEMPLATE_PART.sub("", template)
    if literal.strip("/") and rendered.count("/") > literal.count("/"):
        raise ConfigurationError(
            f"'stack' template {template!r} rendered to {rendered!r}: the '/' came from the value (a branch name?) "
            "and Pulumi would read it as 'org/stack'. Pass the value through the stack_name filter, e.g. "
            "'pr-{{ params.branch | stack_name }}'"
        )
    validate_stack_name(rendered)


def _check_rendered_environment(template: Any, rendered: Any, environments: Mapping[str, Environment] | None) -> None:
    if not (isinstance(template, str) and _is_template(template)) or environments is None:
        return
    if rendered not in environments and (rendered == "None" or (rendered == "" and len(environments) > 1)):
        raise ConfigurationError(
            f"'environment' template {template!r} rendered to {rendered!r}: the param or conf value it reads is not "
            f"set for this run. Set it (one of: {', '.join(sorted(environments))}) or give a default, e.g. "
            "{{ dag_run.conf.get('env', 'dev') }}"
        )


def _targets(task: Any) -> set[tuple]:
    """What an ``up`` task writes: ``(project, backend, connection, stack, environment template)`` per candidate."""
    if task.environments is None:
        return {(task.project, None, task.pulumi_conn_id, task.stack, None)}
    templated = isinstance(task.environment, str) and _is_template(task.environment)
    names = list(task.environments) if templated or task.environment is None else [task.environment]
    return {
        (
            task.project,
            task.environments[name].backend_url,
            task.environments[name].pulumi_conn_id or task.pulumi_conn_id,
            task.stack or task.environments[name].stack,
            task.environment if templated else None,
        )
        for name in names
        if name in task.environments
    }


def _check_no_second_up(task: Any) -> None:
    """Refuse a second ``up`` task on the same project and stack in one DAG: each would delete the other's resources."""
    dag = getattr(task, "dag", None)
    if dag is None or task.operation != "up":
        return
    mine = task._up_targets = _targets(task)
    for other in dag.task_dict.values():
        if other is task or not isinstance(other, PulumiStackOperator) or other.operation != "up":
            continue
        shared = mine & (getattr(other, "_up_targets", None) or _targets(other))
        if shared:
            project, _, _, stack, _ = sorted(shared, key=repr)[0]
            raise ConfigurationError(
                f"tasks {other.task_id!r} and {task.task_id!r} of DAG {dag.dag_id!r} both run `up` on stack {stack!r} "
                f"of project {project!r}: each `up` deletes what the other's program declared, and run together they "
                "fight over the stack's lock. Give each its own stack (stack=... or another Environment) or project, "
                "or declare both sets of resources in one function; to use another task's infrastructure, read its "
                "outputs (XCom) or preview/refresh it instead."
            )
