"""``@pulumi_stack`` (also ``@task.pulumi_stack``): a thin decorator over :class:`PulumiStackOperator`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow.sdk.bases.decorator import DecoratedOperator, task_decorator_factory

from airflow_pulumi_decorators.operator import PulumiStackOperator

if TYPE_CHECKING:
    from airflow.sdk.bases.decorator import TaskDecorator


class _PulumiStackDecoratedOperator(DecoratedOperator, PulumiStackOperator):
    """Wraps the decorated function as the inline program of a :class:`PulumiStackOperator`."""

    template_fields = PulumiStackOperator.template_fields
    template_fields_renderers = PulumiStackOperator.template_fields_renderers
    shallow_copy_attrs = ("python_callable", *PulumiStackOperator.shallow_copy_attrs)
    custom_operator_name = "@pulumi_stack"

    def __init__(self, *, python_callable: Callable[..., Any], op_args=None, op_kwargs=None, **kwargs) -> None:
        super().__init__(
            kwargs_to_upstream={"program": python_callable, "op_args": op_args, "op_kwargs": op_kwargs},
            python_callable=python_callable,
            op_args=op_args,
            op_kwargs=op_kwargs,
            **kwargs,
        )


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
    return task_decorator_factory(
        python_callable=python_callable,
        multiple_outputs=True if multiple_outputs is None else multiple_outputs,
        decorated_operator_class=_PulumiStackDecoratedOperator,
        **kwargs,
    )
