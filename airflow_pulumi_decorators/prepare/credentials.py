"""The run's Google Cloud credential: obtained for the environment's identity, handed over as engine variables,
removed when the run ends (or the task is killed)."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from airflow_pulumi_decorators.errors import ConfigurationError

if TYPE_CHECKING:
    from airflow_pulumi_decorators.environments import Environment
    from airflow_pulumi_decorators.identity.handoff import EngineCredentials
    from airflow_pulumi_decorators.stack_task import TaskLog


def credential_budget(execution_timeout: datetime.timedelta | None) -> datetime.timedelta | None:
    """How long the credential must last: the task's ``execution_timeout``, else ``[pulumi] credential_budget``.

    :raises ConfigurationError: a ``credential_budget`` that is not a number of seconds.
    """
    if execution_timeout is not None:
        return execution_timeout
    from airflow_pulumi_decorators import settings

    configured = settings.get_option("credential_budget")
    if not configured:
        return None
    try:
        return datetime.timedelta(seconds=float(configured))
    except ValueError:
        raise ConfigurationError(f"[pulumi] credential_budget={configured!r} is not a number of seconds") from None


@contextlib.contextmanager
def engine_credential(
    environment: Environment,
    *,
    execution_timeout: datetime.timedelta | None,
    mask: Callable[[str], None],
    log: TaskLog,
) -> Iterator[EngineCredentials | None]:
    """The credential of the environment's identity (``None`` without one); always removed afterwards.

    :param environment: the run's environment.
    :param execution_timeout: the task's timeout: a token must outlive it.
    :param mask: registers the token with Airflow's secret masker.
    :param log: the task log (the identity, the principal, when the token expires; never the token).
    """
    if environment.identity is None:
        yield None
        return
    from airflow_pulumi_decorators.identity import obtain_engine_credentials

    credential = obtain_engine_credentials(
        environment.identity,
        project=environment.gcp_project,
        mode=environment.credential_mode,
        budget=credential_budget(execution_timeout),
        mask=mask,
    )
    with credential:
        log.info(
            "pulumi: identity %s acts as %s (%s mode%s)",
            credential.identity,
            credential.principal,
            credential.mode.value,
            f", token expires {credential.expires_at:%Y-%m-%dT%H:%M:%SZ}" if credential.expires_at else "",
        )
        yield credential
