"""The checks a stack task's arguments get, the same for ``@pulumi_stack`` and ``PulumiStackOperator``: the
one room of the argument rules, typed against :class:`~airflow_pulumi_decorators.stack_task.StackTask`.

Parse time (when the operator is created, :func:`at_parse_time`): ``pulumi_command``, the program, ``stack``
/ ``environments`` / ``environment`` together, ``destroy`` of a protected environment, stack names against the
project, a token's lifetime against ``execution_timeout``, a second ``up`` on the same stack. Task start
(when the templates are rendered, :func:`render_checked`): templates that read what the run lacks, rendered
stack and environment names, ``None`` from an upstream task, templates in the environment's config.

Plain Airflow SDK and Jinja, imported where used: no Pulumi, no google-auth.
"""

from __future__ import annotations

import inspect
import itertools
import os
import re
import weakref
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

from airflow_pulumi_decorators._airflow import unmapped_copy
from airflow_pulumi_decorators.environments import (
    _TEMPLATE_PART,
    Environment,
    FrozenMapping,
    _is_template,
    check_stack_project,
    environment_name,
    validate_stack_name,
)
from airflow_pulumi_decorators.errors import ConfigurationError, UnknownEnvironmentError
from airflow_pulumi_decorators.operations import check_protected

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_pulumi_decorators.stack_task import StackTask


# -- parse time -------------------------------------------------------------------------------------------


def at_parse_time(task: StackTask, kind: type) -> dict[tuple[str, Any], str]:
    """Every parse-time check of a stack task whose arguments are set, in the order a reader fixes them.

    :param task: the new task, already in its DAG (when it has one).
    :param kind: the class of stack tasks (a second ``up`` is looked for among the DAG's tasks of this kind).
    :return: the arguments that come from upstream tasks (:func:`upstream_arguments`): a ``None`` from one of
        them is refused at task start.
    :raises ConfigurationError: naming the argument and the fix.
    """
    check_environment_arguments(task)
    check_protected_at_parse_time(task)
    upstream = upstream_arguments(task.program, task.op_args, task.op_kwargs)
    check_names(task)
    check_credential_lifetimes(task)
    check_no_second_up(task, kind)
    check_plan_binding(task)
    return upstream


def _argument(task: Any, name: str) -> Any:
    """An argument of a task, plain or mapped (a mapped task keeps its shared arguments in ``partial_kwargs``)."""
    if hasattr(task, "partial_kwargs"):
        given = task.partial_kwargs
        return given.get(name, given.get("python_callable") if name == "program" else None)
    return getattr(task, name, None)


def _same_function(one: Any, other: Any) -> bool:
    def where(fn: Any) -> tuple[str, str]:
        fn = getattr(fn, "__wrapped__", fn)
        return getattr(fn, "__module__", ""), getattr(fn, "__qualname__", repr(fn))

    return one is other or where(one) == where(other)


def check_plan_binding(task: Any) -> None:
    """An ``up`` bound to an approved plan (``approved_plan``) names a preview of the same program and project in
    its DAG, declared before it.

    :param task: the new task, already in its DAG (when it has one).
    :raises ConfigurationError: naming the option and the fix.
    """
    bound = task.options.approved_plan
    if not bound or not task.has_dag() or unmapped_copy(task):
        return
    other = task.dag.task_dict.get(bound)
    fix = (f"give approved_plan the task id of a preview of the same function (e.g. {task.task_id}_preview from "
           f"{getattr(task.program, '__name__', 'my_stack')}.preview(...)), or use .with_approval()")
    if other is None:
        raise ConfigurationError(
            f"'approved_plan'={bound!r} of task {task.task_id!r}: DAG {task.dag.dag_id!r} has no task {bound!r} "
            f"(declare the preview before the up); {fix}"
        )
    operation = _argument(other, "operation")
    program = _argument(other, "program")
    project = _argument(other, "project")
    if operation != "preview" or project != task.project or (program is not None
                                                             and not _same_function(program, task.program)):
        what = (f"its operation is {operation!r}" if operation != "preview" else
                f"its project is {project!r}, not {task.project!r}" if project != task.project else
                f"it runs {getattr(program, '__name__', program)}(), not {getattr(task.program, '__name__', '?')}()")
        raise ConfigurationError(
            f"'approved_plan'={bound!r} of task {task.task_id!r} is not a preview of the same program and project: "
            f"{what}; {fix}"
        )


def check_decorator_keywords(
    keywords: Mapping[str, Any], known: Collection[str], function: Callable[..., Any] | None
) -> None:
    """Refuse a keyword ``@pulumi_stack(...)`` does not take, usually a program argument given to the decorator.

    :param keywords: the decorator's keywords.
    :param known: every keyword it takes (the operator's, ``BaseOperator``'s, the option keywords).
    :param function: the decorated function, when known (its parameters are named in the fix).
    :raises ConfigurationError: naming the keyword and the fix (a did-you-mean where a name is close).
    """
    unknown = [name for name in keywords if name not in known]
    if not unknown:
        return
    name = min(unknown)
    import difflib  # only when reporting: not imported while parsing a DAG file

    parameters = _parameters(function) if function is not None else set()
    close = difflib.get_close_matches(name, sorted(set(known) | parameters), n=1)
    guess = name if name in parameters else (close[0] if close else None)
    if function is not None and guess in parameters:
        said = "is" if guess == name else f"looks like {guess!r}, which is"
        fix = (f"{name!r} {said} an argument of the program {function.__name__}(): pass it when you call it, "
               f"{function.__name__}({guess}=...)")
    else:
        fix = f"did you mean {guess!r}?" if guess else "see PulumiStackOperator's and BaseOperator's arguments"
    raise ConfigurationError(f"@pulumi_stack got an unknown keyword {name!r}: {fix}")


def _parameters(function: Callable[..., Any]) -> set[str]:
    try:
        return set(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return set()


def check_program(program: object) -> Callable[..., Any]:
    """The function that declares resources must be callable."""
    if not callable(program):
        raise ConfigurationError(f"'program' must be a callable, got {type(program).__name__}")
    return program


def check_environment_arguments(task: StackTask) -> None:
    """``stack`` without ``environments``, or ``environments`` with the ``environment`` of the run."""
    environments, environment = task.environments, task.environment
    if environments is None:
        if not task.stack:
            raise ConfigurationError(
                "give 'stack' (e.g. stack='dev') or 'environments' with 'environment' "
                "(e.g. environment='{{ params.env }}')"
            )
        if environment is not None:
            raise ConfigurationError("'environment' needs 'environments' (a map of name to Environment)")
        return
    if environment is None and len(environments) > 1:
        raise ConfigurationError(
            f"'environment' is required with several environments ({', '.join(sorted(environments))});"
            " e.g. environment='{{ params.env }}'"
        )
    if isinstance(environment, str) and not _is_template(environment) and environment not in environments:
        raise UnknownEnvironmentError(environment, list(environments))


def check_protected_at_parse_time(task: StackTask) -> None:
    """``destroy`` of a protected environment known now (a templated environment is checked at run time)."""
    if task.operation != "destroy" or task.environments is None or not isinstance(task.environment, str | None):
        return
    names = list(task.environments) if task.environment is None else [task.environment]
    for name in names:
        if name in task.environments and not _is_template(name):
            check_protected(
                name, task.environments[name], task.options, allow=task.allow_destroy_protected,
                operation=task.operation, task_id=task.task_id, function=getattr(task.program, "__name__", ""),
            )


def check_names(task: StackTask) -> None:
    """Stack names, literal or the literal text of a template; a fully qualified one must name the task's project."""
    if task.stack is not None:
        validate_stack_name(task.stack, project=task.project)
    for name, env in (task.environments or {}).items():
        # Environment checked the name itself when it was made; what it could not know is the task's project.
        check_stack_project(env.stack, parameter=f"environments[{name!r}].stack", project=task.project)


def check_credential_lifetimes(task: StackTask) -> None:
    """A token that cannot outlive ``execution_timeout`` fails now rather than in every run."""
    if task.execution_timeout is None:
        return
    from airflow_pulumi_decorators.identity.handoff import check_lifetime_covers

    for env in (task.environments or {}).values():
        if env.identity is not None and env.credential_mode == "token":
            check_lifetime_covers(env.identity, task.execution_timeout, task_id=task.task_id)


def check_pulumi_command(value: Any) -> None:
    """``pulumi_command`` must be a ready command object: a path or a class is the usual slip."""
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


def upstream_arguments(
    function: Callable[..., Any], op_args: Collection[Any], op_kwargs: Mapping[str, Any]
) -> dict[tuple[str, Any], str]:
    """``{("arg", index) | ("kwarg", name): "upstream task 'x'"}`` for the arguments that are XComArgs."""
    from airflow.sdk import XComArg

    if not any(isinstance(v, XComArg) for v in itertools.chain(op_args, op_kwargs.values())):
        return {}  # the usual case: no signature to read

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


#: What an ``up`` task writes: ``(project, backend, connection, stack, environment template)``.
_Target = tuple[str, str | None, str | None, str | None, str | None]


def _targets(task: Any) -> set[_Target]:
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


class _UpIndex:
    """The ``up`` targets of one DAG's stack tasks, each with the first task that claimed it.

    Kept in step with ``dag.task_dict`` (tasks added with ``dag.add_task`` or ``task.dag = ...`` count too),
    so each new task is checked against the index instead of against every task before it.
    """

    __slots__ = ("seen", "owners")

    def __init__(self) -> None:
        self.seen = 0  # how many entries of task_dict are indexed
        self.owners: dict[_Target, Any] = {}  # target -> first task that runs `up` on it

    def catch_up(self, tasks: dict[str, Any], new: Any, kind: type) -> None:
        """Index the ``kind`` tasks added since the last call, except ``new`` (the task being checked)."""
        if len(tasks) < self.seen:  # something was removed: start over
            self.seen, self.owners = 0, {}
        for other in itertools.islice(tasks.values(), self.seen, None):
            if other is not new and isinstance(other, kind):
                self.add(other)
        self.seen = len(tasks)

    def add(self, task: Any) -> None:
        if task.operation != "up":
            return
        try:
            targets = getattr(task, "_up_targets", None) or _targets(task)
        except AttributeError:
            return  # a task whose __init__ failed (the error was caught) before its arguments were set
        for target in targets:
            self.owners.setdefault(target, task)


#: DAG (by identity: a DAG's ``==`` compares its attributes) -> its index; dropped with the DAG.
_INDEXES: dict[int, tuple[weakref.ref[Any], _UpIndex]] = {}


def _index_of(dag: Any) -> _UpIndex:
    key = id(dag)
    entry = _INDEXES.get(key)
    if entry is None or entry[0]() is not dag:

        def drop(_: weakref.ref[Any]) -> None:
            _INDEXES.pop(key, None)

        entry = _INDEXES[key] = (weakref.ref(dag, drop), _UpIndex())
    return entry[1]


def check_no_second_up(task: Any, kind: type) -> None:
    """Refuse a second ``up`` task on the same project and stack in one DAG: each would delete the other's resources.

    :param task: the new task, already in its DAG.
    :param kind: the class of stack tasks (the others in the DAG it is checked against).
    """
    # A mapped task's copies (one per map index, made when each runs) are the mapped task itself, which was
    # checked when the DAG was built (check_mapped_up).
    if task.operation != "up" or not task.has_dag() or unmapped_copy(task):
        return
    dag = task.dag
    index = _index_of(dag)
    index.catch_up(dag.task_dict, task, kind)
    mine = task._up_targets = _targets(task)
    taken = [index.owners[target] for target in mine if target in index.owners]
    index.add(task)
    if not taken:
        return
    # The first of them in the DAG, as a walk over the DAG's tasks would find it.
    position = {id(t): i for i, t in enumerate(dag.task_dict.values())}
    other = min(taken, key=lambda t: position.get(id(t), len(position)))
    shared = mine & (getattr(other, "_up_targets", None) or _targets(other))
    project, _, _, stack, _ = sorted(shared, key=repr)[0]
    raise ConfigurationError(
        f"tasks {other.task_id!r} and {task.task_id!r} of DAG {dag.dag_id!r} both run `up` on stack "
        f"{stack!r} of project {project!r}: each `up` deletes what the other's program declared, and run "
        "together they fight over the stack's lock. Give each its own stack (stack=... or another Environment) or "
        "project, "
        "or declare both sets of resources in one function; to use another task's infrastructure, read its "
        "outputs (XCom) or preview/refresh it instead."
    )


def check_mapped_up(task_id: str, arguments: Mapping[str, Any], mapped: Collection[str] | None) -> None:
    """Refuse a mapped ``up`` whose map indexes would all write one stack: each would delete the others' resources.

    The stack differs per map index when ``stack`` or ``environment`` is mapped, or ``stack`` is a template
    (``"r{{ ti.map_index }}"``, ``"{{ task.op_kwargs['region'] }}"``); anything else names one stack for all.

    :param task_id: the mapped task.
    :param arguments: the task's arguments given to ``partial`` or the decorator (``stack``, ``environments``,
        ``environment``, ``operation``).
    :param mapped: the names of the arguments mapped over (``expand``), or ``None`` when not known yet
        (``partial`` before its ``expand``, ``expand_kwargs``): then only a literal ``stack`` is refused.
    :raises ConfigurationError: naming the task, the stack and the fix.
    """
    if arguments.get("operation", "up") != "up" or {"stack", "environment"} & set(mapped or ()):
        return
    stack = arguments.get("stack")
    if isinstance(stack, str) and _is_template(stack):
        return
    if stack is None and mapped is None:
        return
    if stack is None:
        environments = arguments.get("environments") or {}
        environment = arguments.get("environment")
        if not environments or (isinstance(environment, str) and _is_template(environment)) and len(environments) > 1:
            return  # no stack known now: the operator refuses what is missing
        names = [environment] if isinstance(environment, str) and environment in environments else list(environments)
        stack = " / ".join(repr(environments[name].stack) for name in names)
    else:
        stack = repr(stack)
    raise ConfigurationError(
        f"task {task_id!r} is mapped (.expand) and runs `up` on stack {stack} for every map index: each map "
        "index would delete what the others deployed, and they fight over the stack's lock. Give each map index "
        "its own stack: stack='" + task_id + "-{{ ti.map_index }}', a stack from the mapped argument "
        "(stack=\"{{ task.op_kwargs['region'] }}\" or stack=... in expand()), or map over 'environment'."
    )


# -- task start -------------------------------------------------------------------------------------------


def render_checked(task: Any, context: Context, jinja_env: Any, render: Callable[[Context, Any], None]) -> None:
    """Render the task's template fields with ``render`` (Airflow's), then check what they rendered to and
    render the run's environment's config.

    :param task: the operator.
    :param render: Airflow's ``render_template_fields`` of the operator.
    """
    raw = {name: getattr(task, name) for name in ("stack", "environment")}
    try:
        render(context, jinja_env)
    except Exception as exc:
        if _missing_key(exc) is None:
            raise
        raise _undefined_error(task, context, jinja_env, exc) from None
    _check_rendered_stack(raw["stack"], task.stack)
    _check_rendered_environment(raw["environment"], task.environment, task.environments)
    _check_upstream_values(task)
    _render_environment_config(task, context, jinja_env)


def _check_upstream_values(task: Any) -> None:
    for label, source in task._upstream_arguments.items():
        kind, key = label
        value = task.op_args[key] if kind == "arg" else task.op_kwargs.get(key)
        if value is None:
            name = key if kind == "kwarg" else _positional_name(task.program, key)
            raise ConfigurationError(
                f"argument {name!r} of {task.task_id!r} comes from {source}, which gave None; the program would "
                f"run with {name}=None. Make the upstream task return a value (check its return value or XCom "
                f"key), or, if None is a value the program handles, say so with a default: {name}=None in its "
                "signature."
            )


def _render_environment_config(task: Any, context: Context, jinja_env: Any) -> None:
    """Render templates in the run's environment's config and secret config (never stored as rendered fields)."""
    if not task.environments:
        return
    try:
        name = environment_name(task.environments, task.environment)
    except ConfigurationError:
        return  # execute() raises the same error, with the operator's own context
    env = task.environments[name]
    from airflow.sdk.log import mask_secret

    def render(field: str, key: str, template: str) -> Any:
        if field == "secret_config":
            mask_secret(template)  # it may be a literal secret that merely contains '{{'
        try:
            value = task.render_template(template, context, jinja_env)
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
        task.environments = FrozenMapping({**task.environments, name: rendered})


def _positional_name(function: Callable[..., Any], index: int) -> str:
    try:
        params = list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return f"#{index}"
    return params[index] if index < len(params) else f"#{index}"


_DEFINE_IT = (
    "define it (a DAG param, a key of the run's conf, or an Airflow Variable) or give a default: "
    "{{{{ params.get({key!r}, ...) }}}}, {{{{ dag_run.conf.get({key!r}, ...) }}}} or "
    "{{{{ var.value.get({key!r}, ...) }}}}"
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
