"""A link from the task to its update in Pulumi Cloud (only when the backend is Pulumi Cloud)."""

from __future__ import annotations

from typing import Any

from airflow_pulumi_decorators.backend_url import BackendUrl
from airflow_pulumi_decorators.operations import SUMMARY_KEY


def update_url(backend_url: BackendUrl | str | None, project: str, stack: str, version: int | None) -> str | None:
    """The console URL of an update, or ``None`` when the backend is not Pulumi Cloud or the org is unknown.

    Pulumi Cloud needs the organization: give the stack as ``org/stack`` or ``org/project/stack``.

    :param backend_url: the run's backend (``https://api.pulumi.com`` for Pulumi Cloud).
    :param project: the Pulumi project.
    :param stack: the stack, as passed to the engine.
    :param version: the update version (``None``: link to the stack).
    """
    if not backend_url:
        return None
    app = (backend_url if isinstance(backend_url, BackendUrl) else BackendUrl(backend_url)).console_url
    parts = stack.split("/")
    if app is None or len(parts) < 2:
        return None
    org, name = parts[0], parts[-1]
    project = parts[1] if len(parts) == 3 else project
    base = f"{app}/{org}/{project}/{name}"
    return f"{base}/updates/{version}" if version is not None else base


def _operator_link_base() -> type:
    from airflow.sdk import BaseOperatorLink

    return BaseOperatorLink


#: The attribute an operator that ran in this process carries: its update's URL, or ``None``.
URL_ATTRIBUTE = "_pulumi_update_url"
_NOT_RUN = object()


class PulumiUpdateLink(_operator_link_base()):  # type: ignore[misc]
    """"Pulumi update": the update this task ran, in Pulumi Cloud.

    Airflow asks for the link once the task ends, failed or not. The operator that ran says what it has
    (no URL when the task failed before its update, or the backend is not Pulumi Cloud), so a failed task's
    log gets no second, misleading "XCom not found" error; elsewhere the task's ``pulumi_summary`` XCom is read.
    """

    name = "Pulumi update"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        url = getattr(operator, URL_ATTRIBUTE, _NOT_RUN)
        if url is not _NOT_RUN:
            return str(url) if url else ""
        from airflow_pulumi_decorators._airflow import xcom_value

        summary = xcom_value(ti_key, SUMMARY_KEY)
        return (summary or {}).get("url") or ""
