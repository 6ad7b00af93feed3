"""Airflow assets for stacks: ``pulumi://<project>/<stack>``, which each successful ``up`` updates, and
``pulumi-drift://<project>/<stack>``, which each drift check of the stack updates (drift found or not).

Other DAGs schedule on a stack's infrastructure changes with ``schedule=[stack_asset("network", "prod")]``,
and on its drift checks with ``schedule=[drift_asset("network", "prod")]``. Drift checks have an asset of
their own so that the DAGs consuming a stack's changes do not run on every check. The events themselves are
emitted by :mod:`airflow_pulumi_decorators.publish.events`.
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
