"""The Pulumi view in a real browser: Debian's Chromium driven by Playwright (launched on the system browser:
no browser download), against a real api-server, scheduler and dag-processor started here (``server.py``).

``ui_web`` deploys ``web/dev`` (an output that is secret), checks drift and previews an update; ``ui_hold``
deploys ``web/staging`` slowly, so its running task holds the stack's lock while the pages are looked at.
Screenshots go to ``test-artifacts/ui/`` (not committed; ``scripts/ui-screenshots.sh`` copies them into the
docs). Every response the browser received is searched for the secret output's value.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.ui.server import REPO, LocalAirflow

# One worker runs the module under pytest-xdist (--dist loadgroup): its tests share one deployment.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(900), pytest.mark.xdist_group("ui_browser")]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO / "test-artifacts" / "ui"
SECRET = f"ui-browser-secret-{uuid.uuid4().hex[:12]}"
#: How long ui_hold's ``up`` holds the stack's lock (a sleeping resource).
HOLD_SECONDS = 120


def _prerequisites() -> str | None:
    if CHROMIUM is None:
        return "no chromium on PATH (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install playwright; never `playwright install`)"
    return None


if (missing := _prerequisites()) is not None:
    if os.environ.get("APD_REQUIRE_BROWSER"):
        pytest.fail(f"browser tests required (APD_REQUIRE_BROWSER) but {missing}", pytrace=False)
    pytest.skip(missing, allow_module_level=True)


@pytest.fixture(scope="module")
def airflow() -> Iterator[dict[str, Any]]:
    """The deployment with ``ui_web`` finished and ``ui_hold``'s ``up`` running (holding ``web/staging``)."""
    began = time.monotonic()
    server = LocalAirflow(
        dags={"ui_web": ("ui_stack", {"project": "web", "secret": SECRET}),
              "ui_hold": ("ui_stack", {"project": "web", "stack": "staging", "hold": HOLD_SECONDS})},
        denied="carol:ui_web",
    )
    try:
        server.start()
        run = server.trigger("ui_web")
        server.wait_until(lambda: server.run_state("ui_web", run) in ("success", "failed"), 240, "ui_web to finish")
        assert server.run_state("ui_web", run) == "success", server.tails()
        server.timings["ui_web run"] = time.monotonic() - began - server.timings["airflow up"]
        hold = server.trigger("ui_hold")

        def staging_locked() -> bool:
            rows = server.request("GET", "/pulumi/api/stacks")
            return any(r["stack"] == "staging" and r["locked"] for r in rows)

        server.wait_until(staging_locked, 120, "ui_hold's up to hold web/staging")
        server.timings["setup"] = time.monotonic() - began
        yield {"server": server, "run": run, "hold": hold, "responses": []}
    finally:
        print(f"ui browser harness timings: { {k: round(v, 1) for k, v in server.timings.items()} }")
        server.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        # --no-sandbox: Chromium's sandbox refuses to run as root (CI and this machine run as root).
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page_as(airflow, browser):
    """A page logged in as a user (the UI's ``_token`` cookie), every response's body recorded."""
    contexts = []

    def open_as(user: str) -> Any:
        server: LocalAirflow = airflow["server"]
        context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=server.api)
        context.add_cookies([{"name": "_token", "value": server.token(user), "url": server.api}])
        contexts.append(context)
        page = context.new_page()

        def record(response: Any) -> None:
            try:
                airflow["responses"].append((response.url, response.text()))
            except Exception:  # a redirect or an aborted request has no body
                airflow["responses"].append((response.url, ""))

        context.on("response", record)
        return page

    yield open_as
    for context in contexts:
        context.close()


def _shot(page: Any, name: str) -> None:
    """Save a screenshot as a test artifact (each test checks its own: under xdist the module's order is not
    guaranteed, so no test may count on another's)."""
    path = ARTIFACTS / f"{name}.png"
    path.unlink(missing_ok=True)
    page.screenshot(path=str(path))
    assert path.stat().st_size > 1000, f"the screenshot {path} is empty"


def _frame_text(page: Any) -> str:
    """The text of the plugin's frame in Airflow's UI, once it has loaded."""
    frame = page.frame_locator("iframe")
    frame.locator("h1").first.wait_for(timeout=30_000)
    return str(frame.locator("body").inner_text())


def test_the_stacks_page_in_airflows_navigation_shows_each_stack_and_the_running_lock_holder(airflow, page_as):
    page = page_as("alice")
    page.goto("/")
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="Pulumi stacks").click()
    page.wait_for_url("**/plugin/pulumi-stacks")
    text = _frame_text(page)
    assert "Pulumi stacks" in text
    dev = page.frame_locator("iframe").locator("#stacks tr", has_text="dev").first.inner_text()
    assert "web" in dev and "file://" in dev and "preview" in dev and "no drift" in dev and "unlocked" in dev
    staging = page.frame_locator("iframe").locator("#stacks tr", has_text="staging").first.inner_text()
    assert "locked by ui_hold" in staging and airflow["hold"] in staging
    _shot(page, "stacks")


def test_the_stack_page_shows_outputs_with_the_secret_withheld_resources_and_history(airflow, page_as):
    page = page_as("alice")
    page.goto("/pulumi/stack?project=web&stack=dev")
    outputs = page.locator("table.outputs").inner_text()
    assert "https://web.internal" in outputs and "web:1.0" in outputs
    assert "api_key" in outputs and "withheld (secret)" in outputs
    assert page.locator("#resources").inner_text().count("Settings") == 2
    assert page.locator("#history tr").count() == 4  # the header and three tasks
    _shot(page, "stack")
    page.goto("/pulumi/stack?project=web&stack=staging")
    assert "locked by ui_hold" in page.locator("#lock").inner_text()
    _shot(page, "stack-locked")


def test_the_task_tab_of_a_preview_shows_the_property_diff_of_the_update(airflow, page_as):
    page = page_as("alice")
    page.goto(f"/dags/ui_web/runs/{airflow['run']}/tasks/site_preview/plugin/pulumi-task")
    text = _frame_text(page)
    page.wait_for_timeout(500)  # the frame's layout settles before the screenshot
    diff = page.frame_locator("iframe").locator("#diff").inner_text()
    assert "~ pulumi-python:dynamic/apd:Settings site update" in diff
    assert "image" in diff and "web:1.0" in diff and "web:2.0" in diff, diff
    assert "Pulumi preview: site_preview" in text
    _shot(page, "task-preview")


def test_the_extra_link_of_a_stack_task_opens_the_stack_page(airflow, page_as):
    page = page_as("alice")
    page.goto(f"/dags/ui_web/runs/{airflow['run']}/tasks/site/details")  # extra links are on the Details tab
    link = page.get_by_role("link", name="Pulumi stack")
    link.wait_for(timeout=30_000)
    _shot(page, "extra-link")
    assert page.get_by_role("link", name="Pulumi update").count() == 0  # file:// has no Pulumi Cloud console
    if link.get_attribute("target") == "_blank":
        with page.context.expect_page() as opened:
            link.click()
        stack_page = opened.value
    else:
        link.click()
        stack_page = page
    stack_page.wait_for_url("**/pulumi/stack?project=web&stack=dev")
    assert "Stack web / dev" in stack_page.locator("h1").inner_text()
    assert "withheld (secret)" in stack_page.locator("table.outputs").inner_text()


def test_a_user_without_access_to_the_dag_is_refused_by_the_plugins_api(airflow, page_as):
    page = page_as("carol")
    run = airflow["run"]
    for path in (f"/pulumi/api/ti/ui_web/{run}/site/-1", f"/pulumi/ti/ui_web/{run}/site_preview/-1"):
        response = page.request.get(path)
        assert response.status == 403, (path, response.status, response.text()[:200])
    assert page.request.get("/pulumi/api/stack?project=web&stack=dev").status == 404
    stacks = page.request.get("/pulumi/api/stacks").json()
    assert [(s["project"], s["stack"]) for s in stacks] == [("web", "staging")]  # ui_hold she may read
    page.goto(f"/pulumi/ti/ui_web/{run}/site/-1")
    _shot(page, "refused")
    anonymous = page.context.browser.new_context(base_url=airflow["server"].api)
    try:
        assert anonymous.request.get("/pulumi/api/stacks").status == 401
    finally:
        anonymous.close()


def test_no_page_or_response_the_browser_received_holds_the_secret_output(airflow, page_as):
    page = page_as("alice")
    run = airflow["run"]
    for path in ("/pulumi/stacks", "/pulumi/stack?project=web&stack=dev", f"/pulumi/ti/ui_web/{run}/site/-1"):
        page.goto(path)
        assert SECRET not in page.content()
    seen = airflow["responses"]
    assert len(seen) > 20  # the UI's own API calls and the view's pages
    assert [url for url, body in seen if SECRET in body] == []
