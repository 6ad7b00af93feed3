"""The task's extra links: "Pulumi stack", the stack's page in the Pulumi view of Airflow's UI (every backend:
``file://``, ``gs://``, ``s3://``, Pulumi Cloud), and "Pulumi update", the update in Pulumi Cloud's console
(only when the backend is Pulumi Cloud: elsewhere Airflow shows no button for its empty URL)."""

from __future__ import annotations

from typing import Any

from airflow_pulumi_decorators.backend_url import BackendUrl
from airflow_pulumi_decorators.operations import SUMMARY_KEY, TARGET_KEY
from airflow_pulumi_decorators.ui.urls import stack_path


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


def stack_page_url(project: str, stack: str) -> str:
    """The stack's page in the Pulumi view: below ``[api] base_url`` when it is set, else the path alone (the
    UI opens it on its own server).

    :param project: the Pulumi project.
    :param stack: the stack as the task names it.
    """
    from airflow_pulumi_decorators._airflow import config_get

    base = str(config_get("api", "base_url", fallback="") or "").rstrip("/")
    return f"{base}{stack_path(project, stack)}"


#: The attribute an operator that ran in this process carries: its stack page's URL, or ``None``.
STACK_PAGE_ATTRIBUTE = "_pulumi_stack_page"


class PulumiStackLink(_operator_link_base()):  # type: ignore[misc]
    """"Pulumi stack": the stack's page in the Pulumi view of Airflow's UI (outputs, history, resources, lock,
    drift), for every backend.

    The operator that ran knows its stack once its engine starts; elsewhere the task's ``pulumi_target`` XCom
    is read. A task that failed before choosing its stack has no link.
    """

    name = "Pulumi stack"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        url = getattr(operator, STACK_PAGE_ATTRIBUTE, _NOT_RUN)
        if url is not _NOT_RUN:
            return str(url) if url else ""
        from airflow_pulumi_decorators._airflow import xcom_value

        target = xcom_value(ti_key, TARGET_KEY) or {}
        if not target.get("project") or not target.get("stack"):
            return ""
        return stack_page_url(str(target["project"]), str(target["stack"]))
