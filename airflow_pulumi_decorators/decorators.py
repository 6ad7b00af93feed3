"""``@pulumi_stack`` (also ``@task.pulumi_stack``): a thin decorator over :class:`PulumiStackOperator`."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, Protocol, cast

from airflow.sdk.bases.decorator import DecoratedOperator, task_decorator_factory

from airflow_pulumi_decorators.errors import ConfigurationError
from airflow_pulumi_decorators.operations import OPTION_KEYWORDS, OperationOptions, pop_option_keywords
from airflow_pulumi_decorators.operator import PulumiStackOperator

if TYPE_CHECKING:
    from airflow.sdk import XComArg
    from airflow.sdk.bases.decorator import TaskDecorator


class _PulumiStackDecoratedOperator(DecoratedOperator, PulumiStackOperator):
    """Wraps the decorated function as the inline program of a :class:`PulumiStackOperator`."""

    template_fields = PulumiStackOperator.template_fields
    template_fields_renderers = PulumiStackOperator.template_fields_renderers
    shallow_copy_attrs = ("python_callable", *PulumiStackOperator.shallow_copy_attrs)
    custom_operator_name = "@pulumi_stack"

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        # The option keywords (from @pulumi_stack, .override() or a method such as .drift_check()) refine
        # options=OperationOptions(...) given to the decorator; the operator itself refuses the two together.
        keywords = pop_option_keywords(kwargs)
        if isinstance(kwargs.get("options"), OperationOptions):
            kwargs["options"] = OperationOptions.for_task(None, kwargs["options"], keywords, refines=True)
        else:
            kwargs.update(keywords)
        if "project" not in kwargs and "project" not in (kwargs.get("default_args") or {}):
            raise ConfigurationError(
                f"@pulumi_stack of {python_callable.__name__}() needs 'project', the Pulumi project name: "
                "@pulumi_stack(project='my-project', stack='dev')"
            )
        # PulumiStackOperator checks the arguments, at parse time and at task start, as for a direct operator.
        super().__init__(
            kwargs_to_upstream={"program": python_callable, "op_args": op_args, "op_kwargs": op_kwargs},
            python_callable=python_callable,
            op_args=op_args,
            op_kwargs=op_kwargs,
            **kwargs,
        )


#: How Python words a call that does not fit a signature (``inspect.Signature.bind``, which Airflow uses).
_BINDING_ERRORS = (
    "missing a required argument",
    "got an unexpected keyword argument",
    "too many positional arguments",
    "multiple values for argument",
)


@functools.cache
def _task_keywords() -> frozenset[str]:
    """Every keyword ``@pulumi_stack(...)`` takes: the operator's, ``BaseOperator``'s and the option keywords."""
    from airflow.sdk import BaseOperator

    names = set(inspect.signature(PulumiStackOperator.__init__).parameters)
    names |= set(inspect.signature(BaseOperator.__init__).parameters)
    names -= {"self", "kwargs", "program", "op_args", "op_kwargs"}
    return frozenset(names | set(OPTION_KEYWORDS))


def _signature(function: Callable[..., Any]) -> str:
    try:
        return str(inspect.signature(function))
    except (TypeError, ValueError):
        return "(...)"


class _Decorator(Protocol):
    """What :class:`PulumiStackTask` uses of the decorator object Airflow makes (its ``_TaskDecorator``)."""

    function: Callable[..., Any]
    kwargs: dict[str, Any]

    def __call__(self, *args: Any, **kwargs: Any) -> XComArg: ...

    def override(self, **kwargs: Any) -> _Decorator: ...


class PulumiStackTask:
    """A ``@pulumi_stack`` function: call it for ``up``; ``.preview``/``.refresh``/``.destroy``/``.drift_check``
    run the other operations on the same program and stack; ``.ephemeral`` pairs ``up`` with its teardown.

    Each method takes the program's arguments and returns the task's ``XComArg``. Task options go through
    :meth:`override` (e.g. ``storage.override(lock_wait=600).destroy(region="EU")``). Everything else
    (``expand``, ``partial`` …) is Airflow's own ``_TaskDecorator``.
    """

    _FORWARDED = frozenset({"is_setup", "is_teardown", "on_failure_fail_dagrun"})
    _decorator: _Decorator

    def __init__(self, decorator: _Decorator) -> None:
        object.__setattr__(self, "_decorator", decorator)
        functools.update_wrapper(self, decorator.function, updated=())

    def __call__(self, *args: Any, **kwargs: Any) -> XComArg:
        self._require_dag("")
        return self._call(self._decorator, args, kwargs)

    def _require_dag(self, method: str) -> None:
        """Refuse to create a task where Airflow would make one that belongs to no DAG and never runs."""
        from airflow.sdk import get_current_context

        from airflow_pulumi_decorators._airflow import in_dag_context

        if in_dag_context() or self._decorator.kwargs.get("dag") is not None:
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

    def _call(self, decorator: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> XComArg:
        """Make the task; the program's arguments that do not fit its signature are a ConfigurationError."""
        try:
            return cast("XComArg", decorator(*args, **kwargs))
        except TypeError as exc:
            if not str(exc).startswith(_BINDING_ERRORS):
                raise
            raise ConfigurationError(
                f"{self.__name__}(...) was called with arguments that do not fit the program: {exc}. The program "
                f"takes {self.__name__}{_signature(self._decorator.function)}; pass its arguments when calling it "
                "(task options such as stack or lock_wait go to @pulumi_stack(...) or .override(...))."
            ) from None

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

    def partial(self, **kwargs: Any) -> PulumiStackTask:
        """Airflow's ``partial`` for a mapped task: the arguments every map index shares."""
        return PulumiStackTask(self._decorator.partial(**kwargs))  # type: ignore[attr-defined]  # Airflow's

    def expand(self, **mapped: Any) -> XComArg:
        """Airflow's ``expand``: one task instance per item; an ``up`` needs a stack per map index."""
        from airflow_pulumi_decorators.checks import check_mapped_up

        self._require_dag(".expand")
        # What is mapped here are the program's arguments: the task's stack is the same unless templated.
        check_mapped_up(self.task_id, self._decorator.kwargs, ())
        return self._decorator.expand(**mapped)  # type: ignore[attr-defined, no-any-return]  # Airflow's

    def expand_kwargs(self, kwargs: Any, *, strict: bool = True) -> XComArg:
        """Airflow's ``expand_kwargs``: one task instance per dict of the program's arguments."""
        from airflow_pulumi_decorators.checks import check_mapped_up

        self._require_dag(".expand_kwargs")
        check_mapped_up(self.task_id, self._decorator.kwargs, ())
        return self._decorator.expand_kwargs(kwargs, strict=strict)  # type: ignore[attr-defined, no-any-return]

    def _operation(self, operation: str, args: tuple[Any, ...], kwargs: dict[str, Any], **options: Any) -> XComArg:
        given = self._decorator.kwargs
        task_id = given.get("task_id") if given.get("operation") == operation else None
        options.setdefault("task_id", task_id or f"{self.task_id}_{operation}")
        self._require_dag(f".{operation}")
        return self._call(self._decorator.override(operation=operation, **options), args, kwargs)

    def up(self, *args: Any, **kwargs: Any) -> XComArg:
        """Deploy (the same as calling the function); XCom: the stack outputs."""
        self._require_dag(".up")
        return self._call(self._decorator.override(operation="up"), args, kwargs)

    def preview(self, *args: Any, **kwargs: Any) -> XComArg:
        """Plan without changing anything; XCom: ``changes``, ``has_changes``, ``steps`` (task id ``<fn>_preview``)."""
        return self._operation("preview", args, kwargs)

    def refresh(self, *args: Any, **kwargs: Any) -> XComArg:
        """Read the cloud into the state (task id ``<fn>_refresh``)."""
        return self._operation("refresh", args, kwargs)

    def destroy(self, *args: Any, **kwargs: Any) -> XComArg:
        """Delete the stack's resources (task id ``<fn>_destroy``); refused on protected environments."""
        return self._operation("destroy", args, kwargs)

    def drift_check(self, *args: Any, fail_on_drift: bool = True, **kwargs: Any) -> XComArg:
        """Refresh from the cloud and preview the program: fails with ``DriftDetectedError`` on any change.

        Catches both kinds of drift: the cloud changed behind Pulumi's back, and the code changed without an
        ``up``. Task id ``<fn>_drift_check``. Each successful check emits the asset event
        ``pulumi-drift://<project>/<stack>`` (:func:`airflow_pulumi_decorators.assets.drift_asset`) with ``drift``,
        ``changes`` and ``resources`` in its extra.

        :param fail_on_drift: fail on drift (default). With ``False`` the task succeeds and reports the drift
            in its XCom and its drift event (``"drift": true``), so a remediation DAG scheduled on the drift
            asset runs; Airflow stores no asset event of a failed task.
        """
        flags = {"expect_no_changes": True} if fail_on_drift else {}
        return self._operation("preview", args, kwargs, refresh=True, drift_check=True,
                               task_id=f"{self.task_id}_drift_check", **flags)

    def with_approval(self, *args: Any, approval: dict[str, Any] | None = None, strict_plan: bool = False,
                      **kwargs: Any) -> XComArg:
        """``preview`` → human approval of the planned changes (Airflow HITL) → ``up``; returns the ``up``.

        "Reject" skips the ``up`` (and what depends on it). Use it for protected environments. The ``up`` is bound
        to the approved plan (``approved_plan``): it plans again first and fails with ``PlanChangedError``,
        applying nothing, if the plan differs from the one approved (docs/approvals-and-policy.md).

        :param approval: ``ApprovalOperator`` arguments (``subject``, ``assigned_users``,
            ``response_timeout``, ``notifiers`` …).
        :param strict_plan: also constrain the ``up`` to that plan with Pulumi's update plans (real CLI only).
        """
        from airflow_pulumi_decorators.approvals import approval_gate

        plan = self.preview(*args, **kwargs)
        gate = approval_gate(plan, **(approval or {}))
        self._require_dag(".up")
        bound = self._decorator.override(operation="up", approved_plan=plan.operator.task_id,  # type: ignore[attr-defined]
                                         **({"strict_plan": True} if strict_plan else {}))
        up = self._call(bound, args, kwargs)
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
        up = self._call(self._decorator.override(operation="up"), args, kwargs)
        teardown = self._decorator.override(
            operation="destroy", remove_stack=remove_stack, task_id=f"{self.task_id}_teardown"
        )
        down = self._call(teardown, args, kwargs)
        # A task call returns a PlainXComArg, which has .operator; Airflow declares the base XComArg.
        down.as_teardown(setups=up.operator)  # type: ignore[attr-defined]
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
        # A task call returns a PlainXComArg, which indexes by key; Airflow declares the base XComArg.
        item: XComArg = self.setup[key]  # type: ignore[index]
        return item

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
    ``environments``, ``environment``, ``secret_outputs`` …) plus any ``BaseOperator`` argument.
    Operation options are keywords of their own here (``@pulumi_stack(refresh=True, lock_wait=600)``,
    ``.override(remove_stack=True)``); given with ``options=OperationOptions(...)``, they replace those
    fields of it.

    :param python_callable: the function (when used as ``@pulumi_stack`` without arguments).
    :param multiple_outputs: push each output as its own XCom key; on by default.
    """
    from airflow_pulumi_decorators.checks import check_decorator_keywords

    if python_callable is not None and "project" not in kwargs:
        raise ConfigurationError(
            f"@pulumi_stack above {getattr(python_callable, '__name__', 'the function')}() needs its arguments: "
            "@pulumi_stack(project='my-project', stack='dev'), or project= with environments= and environment="
        )
    if python_callable is not None:
        check_decorator_keywords(kwargs, _task_keywords(), python_callable)
    # Airflow declares its TaskDecorator protocol; given a function (and once applied to one) the result
    # is the decorator object that PulumiStackTask wraps.
    made = task_decorator_factory(
        python_callable=python_callable,
        multiple_outputs=True if multiple_outputs is None else multiple_outputs,
        decorated_operator_class=_PulumiStackDecoratedOperator,
        **kwargs,
    )
    if python_callable is not None:
        return PulumiStackTask(cast("_Decorator", made))  # type: ignore[return-value]

    @functools.wraps(made)
    def wrap(function: Callable[..., Any]) -> PulumiStackTask:
        check_decorator_keywords(kwargs, _task_keywords(), function)
        return PulumiStackTask(cast("_Decorator", made(function)))

    return wrap  # type: ignore[return-value]
