"""What the rooms below the operator read of a stack task: :class:`StackTask`.

:class:`~airflow_pulumi_decorators.operator.PulumiStackOperator` (and ``@pulumi_stack``'s operator) is one;
the argument checks and the run's preparation are typed against this description instead of importing the
operator, so imports run one way: operator → checks, prepare, publish.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from airflow_pulumi_decorators.environments import Environment
    from airflow_pulumi_decorators.operations import Operation, OperationOptions


class TaskLog(Protocol):
    """The task log as the rooms below the operator write to it (Airflow's task logger is one)."""

    def info(self, event: Any, *args: Any, **kw: Any) -> Any: ...

    def warning(self, event: Any, *args: Any, **kw: Any) -> Any: ...

    def error(self, event: Any, *args: Any, **kw: Any) -> Any: ...


class StackTask(Protocol):
    """A stack task's arguments as the operator keeps them (after its parse-time checks).

    :ivar task_id: the task's id.
    :ivar program: the function that declares resources.
    :ivar project: the Pulumi project name.
    :ivar op_args: positional arguments for ``program`` (rendered at task start).
    :ivar op_kwargs: keyword arguments for ``program`` (rendered at task start).
    :ivar stack: the stack name (rendered), or ``None`` to use the environment's.
    :ivar environments: environment name to :class:`~airflow_pulumi_decorators.Environment`, or ``None``.
    :ivar environment: the run's environment (rendered), or ``None``.
    :ivar pulumi_conn_id: the task's ``pulumi`` connection, if any.
    :ivar operation: ``up``, ``preview``, ``refresh`` or ``destroy``.
    :ivar options: how the operation runs.
    :ivar allow_destroy_protected: ``destroy`` may run on a protected environment.
    :ivar multiple_outputs: the task pushes one XCom per output.
    :ivar execution_timeout: Airflow's task timeout, if any.
    """

    task_id: str
    program: Callable[..., Any]
    project: str
    op_args: Collection[Any]
    op_kwargs: Mapping[str, Any]
    stack: str | None
    environments: Mapping[str, Environment] | None
    environment: str | None
    pulumi_conn_id: str | None
    operation: Operation
    options: OperationOptions
    allow_destroy_protected: bool
    multiple_outputs: bool
    execution_timeout: datetime.timedelta | None

    @property
    def log(self) -> TaskLog: ...
