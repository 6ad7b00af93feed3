"""Where a run's state lives and how the engine reaches it: backend URL, secrets provider, PULUMI_HOME.

Resolved when the task starts, never when the DAG is parsed. Everything sensitive (access token,
passphrase) reaches the engine only through its environment and is registered with the secret masker.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from airflow_pulumi_decorators import settings
from airflow_pulumi_decorators.environments import Environment


@dataclass(frozen=True)
class EngineSettings:
    """How the engine runs for one task.

    :param backend_url: the state backend (for logs; it reaches the engine through ``env``).
    :param stack: the stack name to select, fully qualified when the backend needs it.
    :param env: variables for the engine's environment; ``None`` removes an inherited one.
    :param secrets_provider: the secrets provider for a new stack; ``None`` is the backend's default.
    :param pulumi_home: ``PULUMI_HOME`` for this run; ``None`` leaves the worker's.
    """

    backend_url: str
    stack: str
    env: Mapping[str, str | None] = field(default_factory=dict, repr=False)
    secrets_provider: str | None = None
    pulumi_home: str | None = None


@contextlib.contextmanager
def engine_settings(
    environment: Environment,
    *,
    pulumi_conn_id: str | None = None,
    mask: Callable[[str], None] = lambda _: None,
) -> Iterator[EngineSettings]:
    """Resolve the engine settings for an environment; cleans up anything made for the run.

    :param environment: the run's environment.
    :param pulumi_conn_id: the task's default ``pulumi`` connection (the environment's wins).
    :param mask: registers a sensitive value with Airflow's secret masker.
    """
    backend = settings.backend_url(environment.backend_url)
    yield EngineSettings(backend_url=backend, stack=environment.stack, env={"PULUMI_BACKEND_URL": backend})
