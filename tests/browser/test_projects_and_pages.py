"""Projects and tasks in a real browser, and every page checked at 1280 and 375 px (issue 12).

- A plain member's day: create a project, add a task, assign it to a colleague, complete it.
- Every portal page (as the owner and as a plain member) and every public page: axe-core finds no
  serious or critical violation, nothing scrolls sideways, each page has its own title and a skip link,
  and no page loads anything from another origin (tests/browser/a11y.py).
- Swagger UI and ReDoc render from the app's own static files under the Content-Security-Policy.

With PORTAL_SCREENSHOTS=1 (`make screenshots`) they also save docs/img/{projects,tasks}.png.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.a11y import OriginLog, page_problems
from tests.browser.support import DESKTOP, PASSWORD, PHONE, Stack, db, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db]
expect.set_options(timeout=10_000)

OWNER, MEMBER, COLLEAGUE = "naomi@tycho.test", "amos@tycho.test", "alex@tycho.test"
WIDTHS = [pytest.param(DESKTOP, id="1280px"), pytest.param(PHONE, id="375px")]


@pytest.fixture(scope="module")
def tycho(stack: Stack) -> dict[str, Any]:  # noqa: ARG001 - requested for its side effect (usefixtures does not apply to fixtures)
    """An owner and two plain members; one project shared with Amos (view + change) with one task."""
    from tests.browser.support import organization_seed

    org = db(
        lambda: organization_seed(
            "tycho",
            "Tycho Station",
            [(OWNER, "Naomi Nagata", "owner"), (MEMBER, "Amos Burton", "member"), (COLLEAGUE, "Alex Kamal", "member")],
            ["Ring gate survey"],
        )
    )

    def share() -> dict[str, int]:
        from django_tenants.utils import schema_context

        from shared_apps.accounts.models import User
        from tenant_apps.projects.models import Project
        from tenant_apps.projects.services import project_permission_grant, task_create
        from tenants.base.actor import Actor
        from tenants.models import Tenant

        tenant = Tenant.objects.get(slug="tycho")
        owner, amos = User.objects.get(email=OWNER), User.objects.get(email=MEMBER)
        with schema_context(tenant.schema_name):
            project = Project.objects.get(name="Ring gate survey")
            project_permission_grant(
                actor=Actor(user=owner),
                tenant=tenant,
                project=project,
                user_id=amos.pk,
                codenames={"view_project", "change_project"},
            )
            task = task_create(
                actor=Actor(user=owner),
                tenant=tenant,
                project=project,
                title="Calibrate the sensors",
                assignee_id=amos.pk,
            )
        return {"project_id": project.pk, "task_id": task.pk}

    return {**org, **db(share)}


def _task_row(page: Any, title: str) -> Any:
    return page.get_by_role("row").filter(has_text=title)


@pytest.mark.usefixtures("tycho")
@pytest.mark.parametrize("viewport", WIDTHS)
def test_a_members_day_create_a_project_add_a_task_assign_it_and_complete_it(
    stack: Stack, new_context: Any, viewport: dict[str, int]
) -> None:
    origin = stack.origin("tycho")
    project_name, task_title = f"Reactor refit {viewport['width']}", f"Replace the coolant pump {viewport['width']}"
    page = sign_in(new_context(viewport=viewport), origin, MEMBER)

    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Projects").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Projects")
    page.get_by_label("Name").fill(project_name)
    page.get_by_label("Description").fill("Everything the Rocinante needs before the next burn.")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(project_name)
    expect(page.locator("ul.messages")).to_contain_text(f"Project {project_name} created.")

    new_task = page.get_by_role("region", name="New task")
    new_task.get_by_label("Title").fill(task_title)
    new_task.get_by_label("Due date").fill("2031-03-14")
    new_task.get_by_role("button", name="Add task").click()
    expect(page.locator("ul.messages")).to_contain_text(f"Task {task_title} added.")
    expect(_task_row(page, task_title)).to_contain_text("Nobody")
    expect(_task_row(page, task_title)).to_contain_text("2031-03-14")

    # Assign it to a colleague on the task's own page.
    _task_row(page, task_title).get_by_role("link", name=task_title).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(task_title)
    page.get_by_label("Assignee").select_option(label="Alex Kamal")
    page.get_by_role("button", name="Save task").click()
    expect(page.locator("ul.messages")).to_contain_text("Task saved.")
    expect(_task_row(page, task_title)).to_contain_text("Alex Kamal")

    # Complete it from the list, then find it with the filters.
    assert not page_problems(page), page_problems(page)
    _task_row(page, task_title).get_by_role("button", name=f"Complete {task_title}").click()
    expect(page.locator("ul.messages")).to_contain_text(f"Task {task_title} completed.")
    expect(_task_row(page, task_title)).to_contain_text("Done")
    filters = page.get_by_role("form", name="Filter tasks")
    filters.get_by_label("Status").select_option("done")
    filters.get_by_label("Assignee").select_option(label="Alex Kamal")
    filters.get_by_role("button", name="Filter").click()
    expect(page.locator("tr[data-task]")).to_have_count(1)
    expect(_task_row(page, task_title)).to_be_visible()
    assert not page_problems(page), page_problems(page)

    def stored() -> tuple[str, str, str, str]:
        from django_tenants.utils import schema_context

        from tenant_apps.projects.models import Task

        with schema_context(_schema("tycho")):
            task = Task.objects.select_related("project", "assignee").get(title=task_title)
            return task.project.name, task.status, task.assignee.email, str(task.due_date)

    assert db(stored) == (project_name, "done", COLLEAGUE, "2031-03-14")

    if viewport == DESKTOP:
        page.goto(f"{origin}/projects/{_project_id(project_name)}/")
        screenshot(page, "tasks")
        page.goto(f"{origin}/projects/")
        screenshot(page, "projects")


def _schema(slug: str) -> str:
    from tenants.models import Tenant

    return str(Tenant.objects.get(slug=slug).schema_name)


def _project_id(name: str) -> int:
    def find() -> int:
        from django_tenants.utils import schema_context

        from tenant_apps.projects.models import Project

        with schema_context(_schema("tycho")):
            return int(Project.objects.get(name=name).pk)

    return db(find)


def test_a_member_without_a_grant_gets_404_and_a_viewer_cannot_change(
    stack: Stack, tycho: dict[str, Any], new_context: Any
) -> None:
    origin = stack.origin("tycho")
    page = sign_in(new_context(), origin, COLLEAGUE)  # nothing shared with Alex
    page.goto(f"{origin}/projects/")
    expect(page.locator("tr[data-project]")).to_have_count(0)
    response = page.goto(f"{origin}/projects/{tycho['project_id']}/")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")


def _pages(tycho: dict[str, Any], role: str) -> list[str]:
    project, task = tycho["project_id"], tycho["task_id"]
    shared = ["/", "/projects/", f"/projects/{project}/", f"/projects/{project}/tasks/{task}/", "/tokens/"]
    if role == "owner":
        return [
            *shared,
            f"/projects/{project}/edit/",
            "/members/",
            "/billing/",
            "/audit/",
            "/settings/",
            "/webhooks/",
            "/no-such-page/",
        ]
    return [*shared, f"/projects/{project}/edit/", "/members/"]  # the last one: the 403 page


PUBLIC_PAGES = ["/", "/signup/", "/signin/", "/password-reset/", "/no-such-page/"]


@pytest.mark.parametrize("viewport", WIDTHS)
def test_every_page_is_accessible_fits_the_width_and_loads_nothing_from_elsewhere(
    stack: Stack, tycho: dict[str, Any], new_context: Any, viewport: dict[str, int]
) -> None:
    origin = stack.origin("tycho")
    problems: list[str] = []
    log = OriginLog()

    anonymous = new_context(viewport=viewport)
    log.attach(anonymous)
    page = anonymous.new_page()
    for path in PUBLIC_PAGES:
        page.goto(f"{stack.public}{path}")
        problems += [f"public {p}" for p in page_problems(page)]
    for path in ("/login/", "/password-reset/", "/invitations/accept/not-a-real-token/"):
        page.goto(f"{origin}{path}")
        problems += [f"tycho {p}" for p in page_problems(page)]
    # The public sign-in, then the list of one's organizations.
    page.goto(f"{stack.public}/signin/")
    page.get_by_label("Email").fill(OWNER)
    page.get_by_label(re.compile(r"^Password:?$")).fill(PASSWORD)
    page.get_by_role("button", name="Find my organizations").click()
    page.wait_for_url(f"{stack.public}/organizations/")
    problems += [f"public {p}" for p in page_problems(page)]

    for email, role in ((OWNER, "owner"), (MEMBER, "member")):
        context = new_context(viewport=viewport)
        log.attach(context)
        page = sign_in(context, origin, email)
        for path in _pages(tycho, role):
            page.goto(f"{origin}{path}")
            problems += [f"{role} {p}" for p in page_problems(page)]

    assert problems == [], "\n".join(problems)
    assert log.requests, "no request was recorded"
    assert log.foreign() == [], "\n".join(log.foreign())


@pytest.mark.usefixtures("tycho")
def test_swagger_ui_and_redoc_render_from_this_origin_under_the_policy(stack: Stack, new_context: Any) -> None:
    origin = stack.origin("tycho")
    context = new_context()
    log = OriginLog().attach(context)
    violations: list[str] = []
    context.on(
        "page", lambda p: p.on("console", lambda m: violations.append(m.text) if "Content Security" in m.text else None)
    )
    page = context.new_page()

    response = page.goto(f"{origin}/api/docs/")
    assert response is not None
    assert response.status == 200
    assert "script-src 'self'" in (response.headers.get("content-security-policy") or "")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Tenantry API", timeout=30_000)
    expect(page.locator(".opblock").first).to_be_visible(timeout=30_000)
    assert page.title() == "API reference (Swagger UI) · Tenantry"
    assert violations == [], "Swagger UI under the site-wide policy"

    response = page.goto(f"{origin}/api/redoc/")
    assert response is not None
    assert response.status == 200
    policy = response.headers.get("content-security-policy") or ""
    # Scripts stay 'self'; only ReDoc's own style attributes and <style> elements are allowed inline.
    assert "script-src 'self'" in policy, policy
    assert "style-src 'self' 'unsafe-inline'" in policy, policy
    # ReDoc parses and lays out the whole schema in the page before it shows anything: seconds of CPU on a
    # loaded 2-core machine, so the wait is generous (the assertion is that it renders at all).
    expect(page.get_by_role("heading", name=re.compile("Tenantry API"))).to_be_visible(timeout=60_000)
    expect(page.get_by_text("/api/v1/projects/").first).to_be_visible(timeout=30_000)

    # ReDoc's bundle always tries its vendor's logo from cdn.redoc.ly; the policy blocks it (nothing else).
    assert [v for v in violations if "https://cdn.redoc.ly/redoc/logo-mini.svg" not in v] == []
    assert any(url.endswith(".js") and loaded for _, url, loaded in log.requests)
    assert log.foreign(loaded_only=True) == [], "\n".join(log.foreign())
    assert [r for r in log.foreign() if "https://cdn.redoc.ly/redoc/logo-mini.svg" not in r] == []


@pytest.mark.usefixtures("stack")
def test_the_page_checks_catch_what_they_look_for(new_context: Any) -> None:
    """The helper itself: a nameless button, a page wider than the phone, a button reachable only by
    scrolling inside a table, a generic title and a missing skip link are all caught."""
    page = new_context(viewport=PHONE).new_page()
    head = "<!doctype html><html lang=en><head><title>Tenantry</title></head>"
    page.set_content(head + "<body><main><button></button><pre>" + "wide " * 200 + "</pre></main></body></html>")
    found = "\n".join(page_problems(page))
    assert "button-name (critical)" in found, found
    assert "scrollWidth" in found, found
    assert "does not name the page" in found, found
    assert "no skip link" in found, found

    # The page itself fits (the table scrolls inside its box), but its Remove button is out of reach.
    page.set_content(
        head + "<body><main><div class=table-wrap><table><tr><td><pre>" + "wide " * 200 + "</pre></td>"
        "<td><button>Remove</button></td></tr></table></div></main></body></html>"
    )
    page.add_style_tag(content=".table-wrap { overflow-x: auto; }")
    found = "\n".join(page_problems(page))
    assert "scrollWidth" not in found, found
    assert "controls outside the viewport's width" in found, found
    assert "Remove" in found, found
