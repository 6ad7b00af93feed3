"""Airflow assets for stacks: ``pulumi://<project>/<stack>``, which each successful ``up`` updates.

Other DAGs schedule on a stack's infrastructure changes with ``schedule=[stack_asset("network", "prod")]``.
The event itself is emitted by :mod:`airflow_pulumi_decorators.publish.events`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
