"""The Pulumi view's API and pages through Airflow's real api-server app and auth: what a user sees of a
deployed stack, that a secret output's value is in no response, and that a user without access to a DAG gets
nothing of it."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from airflow_pulumi_decorators.ui.urls import stack_path, task_path
from tests.ui.conftest import SECRET, token

# One worker runs the module under pytest-xdist (--dist loadgroup): its tests share one DAG run.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("ui_app")]


def _bearer(client, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(client, user)}"}


def _paths(deployed) -> list[str]:
    run_id = deployed.run_id
    return [
        "/pulumi/api/stacks", "/pulumi/stacks",
        stack_path(deployed.project, "dev"), stack_path(deployed.project, "dev").replace("/pulumi/", "/pulumi/api/"),
        *(path for task in ("site", "site_drift_check", "site_preview")
          for path in (task_path(deployed.dag_id, run_id, task), task_path(deployed.dag_id, run_id, task)
                       .replace("/pulumi/", "/pulumi/api/"))),
    ]


def test_every_endpoint_refuses_a_request_without_a_token(api, deployed):
    for path in _paths(deployed):
        response = api.get(path)
        assert response.status_code == 401, (path, response.status_code)
        assert SECRET not in response.text


def test_an_invalid_token_is_refused(api):
    assert api.get("/pulumi/api/stacks", headers={"Authorization": "Bearer not-a-jwt"}).status_code in (401, 403)


def test_the_stacks_list_shows_backend_last_operation_resources_lock_and_drift(api, deployed):
    rows = api.get("/pulumi/api/stacks", headers=_bearer(api, "bob")).json()
    row = next(r for r in rows if r["project"] == deployed.project and r["stack"] == "dev")
    assert row["backend"] == f"file://{deployed.run.backend}"
    assert row["last_operation"]["operation"] == "preview"
    assert row["last_operation"]["task"]["task_id"] == "site_preview"
    assert row["resource_count"] == 2
    assert row["locked"] is False and row["lock_holders"] == []
    assert row["drift"]["drift"] is False
    assert row["path"] == stack_path(deployed.project, "dev")


def test_the_stack_page_shows_outputs_with_the_secret_withheld_resources_and_history(api, deployed):
    stack = api.get(f"/pulumi/api/stack?project={quote(deployed.project)}&stack=dev",
                    headers=_bearer(api, "bob")).json()
    outputs = {o["key"]: o for o in stack["outputs"]}
    assert outputs["endpoint"] == {"key": "endpoint", "value": "https://web.internal", "withheld": False}
    assert outputs["image"]["value"] == "web:1.0"
    assert outputs["api_key"] == {"key": "api_key", "value": "withheld", "withheld": True}
    assert sorted((r["name"], r["type"].rsplit(":", 1)[-1]) for r in stack["resources"]) == [
        ("cache", "Settings"), ("site", "Settings")]
    assert [(h["operation"], h["label"], h["task"]["task_id"]) for h in stack["history"]] == [
        ("preview", "preview", "site_preview"), ("preview", "drift check", "site_drift_check"), ("up", "up", "site")]
    assert stack["history"][-1]["changes"].get("create") == 3  # two Settings and the stack itself
    page = api.get(stack_path(deployed.project, "dev"), headers=_bearer(api, "bob"))
    assert page.status_code == 200
    assert "withheld (secret)" in page.text and "https://web.internal" in page.text
    assert "no drift" in page.text and "unlocked" in page.text


def test_the_task_page_of_a_preview_shows_the_property_diff_of_the_update(api, deployed):
    path = task_path(deployed.dag_id, deployed.run_id, "site_preview")
    detail = api.get(path.replace("/pulumi/", "/pulumi/api/"), headers=_bearer(api, "bob")).json()
    assert detail["operation"] == "preview"
    assert detail["summary"]["changes"].get("update") == 1
    assert [(s["op"], s["name"]) for s in detail["steps"]] == [("update", "site")]
    assert any("image" in line and "web:1.0" in line and "web:2.0" in line for line in detail["diff"]), detail["diff"]
    page = api.get(path, headers=_bearer(api, "bob")).text
    assert 'id="diff"' in page and "web:2.0" in page


def test_the_task_page_of_an_up_shows_its_outputs_with_the_secret_withheld(api, deployed):
    path = task_path(deployed.dag_id, deployed.run_id, "site").replace("/pulumi/", "/pulumi/api/")
    detail = api.get(path, headers=_bearer(api, "alice")).json()
    assert detail["operation"] == "up" and detail["project"] == deployed.project and detail["stack"] == "dev"
    assert {o["key"]: o["value"] for o in detail["outputs"]}["api_key"] == "withheld"


def test_no_response_holds_the_secret_output_value(api, deployed):
    headers = _bearer(api, "alice")
    for path in _paths(deployed):
        response = api.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text[:300])
        assert SECRET not in response.text, path


def test_a_user_who_may_not_read_the_dag_is_refused_its_tasks_and_does_not_see_its_stack(api, deployed):
    headers = _bearer(api, "carol")
    projects = {r["project"] for r in api.get("/pulumi/api/stacks", headers=headers).json()}
    assert deployed.project not in projects
    assert deployed.other_project in projects  # the DAG carol may read
    assert api.get(f"/pulumi/api/stack?project={quote(deployed.project)}&stack=dev", headers=headers).status_code == 404
    for task in ("site", "site_preview"):
        path = task_path(deployed.dag_id, deployed.run_id, task)
        assert api.get(path.replace("/pulumi/", "/pulumi/api/"), headers=headers).status_code == 403
        page = api.get(path, headers=headers)
        assert page.status_code == 403 and "Not allowed" in page.text  # a page, for the UI's frame
    assert deployed.project not in api.get("/pulumi/stacks", headers=headers).text


def test_the_task_tab_of_a_task_that_is_no_stack_task_says_so_as_a_page(api, deployed):
    path = task_path(deployed.dag_id, deployed.run_id, "no_such_task")
    page = api.get(path, headers=_bearer(api, "bob"))
    assert page.status_code == 404 and "Nothing to show" in page.text and "no Pulumi stack task" in page.text
    assert api.get(path.replace("/pulumi/", "/pulumi/api/"), headers=_bearer(api, "bob")).status_code == 404


def test_the_ui_cookie_authenticates_a_page_as_in_the_ui_frame(api, deployed):
    api.cookies.set("_token", token(api, "bob"))
    try:
        page = api.get(stack_path(deployed.project, "dev"))
    finally:
        api.cookies.clear()
    assert page.status_code == 200 and f"Stack {deployed.project} / dev" in page.text


def test_the_extra_link_points_at_the_stack_page_for_a_file_backend(api, deployed):
    link = deployed.run.xcom("site", "_link_PulumiStackLink")
    assert link == stack_path(deployed.project, "dev")
    assert deployed.run.xcom("site", "_link_PulumiUpdateLink") == ""  # no Pulumi Cloud console for file://
    page = api.get(link, headers=_bearer(api, "bob"))
    assert page.status_code == 200 and f"Stack {deployed.project} / dev" in page.text
