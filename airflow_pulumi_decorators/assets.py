"""Airflow assets for stacks: ``pulumi://<project>/<stack>``, which each successful ``up`` updates, and
``pulumi-drift://<project>/<stack>``, which each drift check of the stack updates (drift found or not).

Other DAGs schedule on a stack's infrastructure changes with ``schedule=[stack_asset("network", "prod")]``,
and on its drift checks with ``schedule=[drift_asset("network", "prod")]``. Drift checks have an asset of
their own so that the DAGs consuming a stack's changes do not run on every check. The events themselves are
emitted by :mod:`airflow_pulumi_decorators.publish.events`.

A task whose stack is known when the DAG is parsed (a literal ``stack``, or a literal ``environment`` whose
``Environment`` names the stack) also declares the stack's asset itself as an outlet: Airflow counts a task as
an asset's producer (the asset page's "Producing Tasks", the graph's asset node) from its declared outlets only,
never from events that arrive through an alias.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Asset, AssetAlias


def stack_uri(project: str, stack: str) -> str:
    """The asset URI of a stack: ``pulumi://<project>/<stack>`` (``stack`` as the task names it)."""
    return f"pulumi://{project}/{stack}"


def stack_asset(project: str, stack: str) -> Asset:
    """The :class:`airflow.sdk.Asset` of a stack, for ``schedule=[...]`` of the DAGs that consume it."""
    from airflow.sdk import Asset

    return Asset(uri=stack_uri(project, stack), name=stack_uri(project, stack))


def stack_alias(project: str) -> AssetAlias:
    """The alias a project's ``up`` tasks declare as outlet; the concrete stack asset is attached at run time."""
    from airflow.sdk import AssetAlias

    return AssetAlias(name=f"pulumi-stacks:{project}")


def _templated(text: str) -> bool:
    return "{{" in text or "{%" in text


def parse_time_stack(stack: Any, environment: Any, environments: Any) -> str | None:
    """The stack a task updates when it is known as the DAG is parsed, else ``None`` (templated, from an upstream
    task, or chosen by a templated environment).

    :param stack: the task's ``stack`` argument.
    :param environment: its ``environment`` argument.
    :param environments: its ``environments`` mapping.
    """
    name = stack
    if name is None and isinstance(environment, str) and not _templated(environment):
        env = environments.get(environment) if isinstance(environments, Mapping) else None
        name = getattr(env, "stack", None)
    if not isinstance(name, str) or not name.strip() or _templated(name):
        return None
    return name


def declared_stack_asset(project: str, stack: Any, environment: Any, environments: Any) -> Asset | None:
    """The stack asset an ``up`` task declares as an outlet, when its stack is known at parse time.

    :param project: the Pulumi project.
    :param stack: the task's ``stack`` argument.
    :param environment: its ``environment`` argument.
    :param environments: its ``environments`` mapping.
    """
    name = parse_time_stack(stack, environment, environments)
    return stack_asset(project, name) if name is not None else None


def drift_uri(project: str, stack: str) -> str:
    """The asset URI of a stack's drift checks: ``pulumi-drift://<project>/<stack>``."""
    return f"pulumi-drift://{project}/{stack}"


def drift_asset(project: str, stack: str) -> Asset:
    """The :class:`airflow.sdk.Asset` a stack's drift checks update, for ``schedule=[...]`` of a remediation DAG.

    Each event's extra says ``drift`` (true or false), the ``changes`` and the drifted ``resources``.
    """
    from airflow.sdk import Asset

    return Asset(uri=drift_uri(project, stack), name=drift_uri(project, stack))


def drift_alias(project: str) -> AssetAlias:
    """The alias a project's drift-check tasks declare as outlet; the stack's drift asset is attached at run time."""
    from airflow.sdk import AssetAlias

    return AssetAlias(name=f"pulumi-drift:{project}")
