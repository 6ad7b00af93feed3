# mypy: disable-error-code="valid-type"
# (the FastAPI dependency types below come from _airflow.api_server() when the app is built)
"""The Pulumi view's FastAPI app, which the api-server mounts under ``/pulumi``.

Every endpoint authenticates through Airflow's own dependency (``get_user``: the ``Authorization: Bearer``
header, or the UI's ``_token`` cookie a same-origin frame sends) and shows only the DAGs the user may read
(the auth manager's ``get_authorized_dag_ids``). No token: 401; a task of a DAG the user may not read: 403;
a stack no readable DAG touched: 404.

- ``GET /api/stacks``, ``GET /stacks``: every stack;
- ``GET /api/stack?project=&stack=``, ``GET /stack?...``: one stack;
- ``GET /api/ti/{dag_id}/{run_id}/{task_id}/{map_index}``, ``GET /ti/...``: one stack task.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations, which name types local
# to create_app (imported there, so importing this module stays cheap).
from typing import TYPE_CHECKING, Any

from airflow_pulumi_decorators.ui.urls import URL_PREFIX

if TYPE_CHECKING:
    from fastapi import FastAPI, Request


def _paths(request: "Request") -> tuple[str, str]:
    """The view's prefix and the base path of Airflow's UI, as the request came (a proxy's base path included)."""
    prefix = str(request.scope.get("root_path", "")).rstrip("/") or URL_PREFIX
    base = prefix[: -len(URL_PREFIX)] if prefix.endswith(URL_PREFIX) else ""
    return prefix, base


def _map_index(value: str) -> int:
    # The UI's task-instance tab puts {MAP_INDEX} in the URL; it is "-1" (or left unfilled) for unmapped tasks.
    try:
        return int(value)
    except ValueError:
        return -1


def create_app() -> "FastAPI":
    """The app (built on the first request: importing the plugin stays cheap)."""
    from typing import Annotated

    from fastapi import Depends, FastAPI, HTTPException, Query, Request
    from fastapi.responses import HTMLResponse, RedirectResponse

    from airflow_pulumi_decorators._airflow import api_server
    from airflow_pulumi_decorators.ui import pages, records, views

    get_auth_manager, SessionDep, GetUserDep = api_server()  # noqa: N806 - FastAPI dependency types

    app = FastAPI(title="Pulumi", description="The Pulumi view of airflow-pulumi-decorators", docs_url=None,
                  redoc_url=None, openapi_url=None)

    def readable_dags(user: GetUserDep) -> set[str]:
        return set(get_auth_manager().get_authorized_dag_ids(user=user, method="GET"))

    Readable = Annotated[set[str], Depends(readable_dags)]

    def stacks(dag_ids: set[str], session: Any) -> list[dict[str, Any]]:
        return views.stacks_index(records.task_records(session, dag_ids), records.event_records(session, dag_ids))

    def stack(project: str, stack: str, dag_ids: set[str], session: Any) -> dict[str, Any]:
        tasks = records.task_records(session, dag_ids)
        up = views.latest_up(project, stack, tasks)
        outputs = records.return_value(session, up) if up is not None else None
        found = views.stack_detail(project, stack, tasks, records.event_records(session, dag_ids), outputs, up)
        if found is None:
            raise HTTPException(404, f"no stack {project}/{stack} in the DAGs you may read")
        return found

    def task(dag_id: str, run_id: str, task_id: str, map_index: str, dag_ids: set[str], session: Any) -> dict[str, Any]:
        if dag_id not in dag_ids:
            raise HTTPException(403, f"you may not read DAG {dag_id!r}")
        key = (dag_id, run_id, task_id, _map_index(map_index))
        found = records.task_records(session, dag_ids, ti=key)
        if not found:
            raise HTTPException(404, f"task {task_id!r} of run {run_id!r} of DAG {dag_id!r} is no Pulumi stack task "
                                     "that has started")
        record = found[0]
        return views.task_detail(record, records.return_value(session, record),
                                 records.event_records(session, dag_ids, ti=key))

    @app.get("/", include_in_schema=False)
    def index(request: Request, dag_ids: Readable) -> RedirectResponse:
        return RedirectResponse(f"{_paths(request)[0]}/stacks")

    @app.get("/api/stacks")
    def api_stacks(dag_ids: Readable, session: SessionDep) -> list[dict[str, Any]]:
        return stacks(dag_ids, session)

    @app.get("/api/stack")
    def api_stack(dag_ids: Readable, session: SessionDep, project: Annotated[str, Query()],
                  stack_name: Annotated[str, Query(alias="stack")]) -> dict[str, Any]:
        return stack(project, stack_name, dag_ids, session)

    @app.get("/api/ti/{dag_id}/{run_id}/{task_id}/{map_index}")
    def api_task(dag_id: str, run_id: str, task_id: str, map_index: str, dag_ids: Readable,
                 session: SessionDep) -> dict[str, Any]:
        return task(dag_id, run_id, task_id, map_index, dag_ids, session)

    def html(request: Request, render: Any) -> HTMLResponse:
        """A page; a 403 or 404 as a page too (the UI shows it in its frame)."""
        prefix, base = _paths(request)
        try:
            return HTMLResponse(render(prefix, base))
        except HTTPException as refused:
            if refused.status_code not in (403, 404):
                raise
            title = "Not allowed" if refused.status_code == 403 else "Nothing to show"
            return HTMLResponse(pages.message_page(title, str(refused.detail), prefix=prefix),
                                status_code=refused.status_code)

    @app.get("/stacks", response_class=HTMLResponse)
    def stacks_page(request: Request, dag_ids: Readable, session: SessionDep) -> HTMLResponse:
        return html(request, lambda prefix, base: pages.stacks_page(stacks(dag_ids, session), prefix=prefix,
                                                                    base=base))

    @app.get("/stack", response_class=HTMLResponse)
    def stack_page(request: Request, dag_ids: Readable, session: SessionDep, project: Annotated[str, Query()],
                   stack_name: Annotated[str, Query(alias="stack")]) -> HTMLResponse:
        return html(request, lambda prefix, base: pages.stack_page(stack(project, stack_name, dag_ids, session),
                                                                   prefix=prefix, base=base))

    @app.get("/ti/{dag_id}/{run_id}/{task_id}/{map_index}", response_class=HTMLResponse)
    def task_page(request: Request, dag_id: str, run_id: str, task_id: str, map_index: str, dag_ids: Readable,
                  session: SessionDep) -> HTMLResponse:
        return html(request, lambda prefix, base: pages.task_page(
            task(dag_id, run_id, task_id, map_index, dag_ids, session), prefix=prefix, base=base))

    return app


class LazyApp:
    """An ASGI app that builds :func:`create_app` on its first request (the plugin is loaded by every Airflow
    process; only the api-server serves it)."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            self._app = create_app()
        await self._app(scope, receive, send)
