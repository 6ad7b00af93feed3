"""Prepare: everything a task's engine run needs, in one order, as one typed request.

The run's environment (resolved and checked by the operator) → its ``pulumi`` connection → the backend,
secrets provider and the variables carrying the access token and passphrase → ``PULUMI_HOME`` → the Google
Cloud credential of the environment's identity → the program bound to the run →
:class:`~airflow_pulumi_decorators.engine.OperationRequest`. :func:`prepare_run` yields it as a
:class:`PreparedRun` and removes what it made (per-task ``PULUMI_HOME``, credential files) when the run ends.

- :mod:`.backend`: connection, backend, secrets provider, stack name;
- :mod:`.home`: the per-task ``PULUMI_HOME``;
- :mod:`.credentials`: the identity's short-lived credential;
- :mod:`.program`: the bound program and the update message;
- :mod:`.plan`: the plan fingerprint's inputs and config, and an ``up``'s binding to its approved preview.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_pulumi_decorators import settings
from airflow_pulumi_decorators.engine.request import OperationRequest
from airflow_pulumi_decorators.operations import OperationOptions, describe_operation
from airflow_pulumi_decorators.prepare import backend
from airflow_pulumi_decorators.prepare.credentials import engine_credential
from airflow_pulumi_decorators.prepare.plan import plan_binding
from airflow_pulumi_decorators.prepare.program import bind_program, task_ref, task_states, update_message

if TYPE_CHECKING:
    from airflow_pulumi_decorators.environments import Environment
    from airflow_pulumi_decorators.identity.handoff import EngineCredentials
    from airflow_pulumi_decorators.stack_task import StackTask

__all__ = ["PreparedRun", "prepare_run"]


@dataclass(frozen=True)
class PreparedRun:
    """One task's prepared engine run.

    :param request: what the engine runs.
    :param environment: the run's environment name.
    :param conn_id: the ``pulumi`` connection used, if any.
    :param credential: the identity's credential while the run lasts (``on_kill`` closes it), or ``None``.
    """

    request: OperationRequest
    environment: str
    conn_id: str | None = None
    credential: EngineCredentials | None = dataclasses.field(default=None, repr=False)


def run_options(operation: str, options: OperationOptions) -> OperationOptions:
    """The task's options, with ``[pulumi] refresh_before_up`` applied to ``up``."""
    if operation == "up" and not options.refresh and settings.refresh_before_up():
        return dataclasses.replace(options, refresh=True)
    return options


@contextlib.contextmanager
def prepare_run(
    task: StackTask,
    context: Mapping[str, Any],
    environment: tuple[str, Environment],
    *,
    mask: Callable[[str], None],
    environ: Mapping[str, str] | None = None,
) -> Iterator[PreparedRun]:
    """Prepare the task's engine run on the run's environment; cleans up everything it made afterwards.

    :param task: the stack task (its arguments rendered).
    :param context: the task's Airflow context.
    :param environment: ``(name, Environment)`` of the run, as the operator resolved it.
    :param mask: registers a sensitive value with Airflow's secret masker.
    :param environ: the worker's environment (default ``os.environ``).
    :raises ConfigurationError: a bad connection, setting or stack name; the message names it.
    :raises IdentityError: the credential could not be obtained.
    """
    name, env = environment
    for value in env.secret_config.values():
        mask(value)
    environ = os.environ if environ is None else environ
    with backend.resolve(
        env, pulumi_conn_id=task.pulumi_conn_id, mask=mask, project=task.project, environ=environ
    ) as where, engine_credential(
        env, execution_timeout=task.execution_timeout, mask=mask, log=task.log
    ) as credential:
        task.log.info(
            "pulumi: %s project=%s stack=%s environment=%s backend=%s",
            describe_operation(task.operation, task.options), task.project, where.stack, name,
            where.context.backend_text,
        )
        run_context = where.context.with_env(credential.env if credential else {})
        basis, binding = plan_binding(task, context, env, run_context, where.stack, environ)
        request = OperationRequest(
            project=task.project,
            stack=where.stack,
            program=bind_program(task.program, task.op_args, task.op_kwargs, context),
            context=run_context,
            config=env.config,
            secret_config=env.secret_config,
            message=update_message(
                context["ti"], environment=name, operation=task.operation,
                principal=credential.principal if credential else None,
            ),
            operation=task.operation,
            options=run_options(task.operation, task.options),
            multiple_outputs=task.multiple_outputs,
            task=task_ref(context["ti"]),
            task_states=task_states(context["ti"]),
            plan_basis=basis,
            plan_binding=binding,
        )
        yield PreparedRun(request=request, environment=name, conn_id=where.conn_id, credential=credential)
