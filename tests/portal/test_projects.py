"""Projects and tasks in the portal (issue 12): the flows a member goes through, with the API's rules
(archiving, filters, search, order, pages) and the API's view of the same data."""

from __future__ import annotations

import re

from django_tenants.utils import schema_context

from shared_apps.accounts.models import Role, User
from tenant_apps.audit.models import AuditEvent
from tenant_apps.projects.models import Project, Task
from tenant_apps.projects.services import project_update, task_create
from tenants.base.actor import Actor
from tenants.models import Tenant
from tests.support.api import Api, grant, make_project, snapshot
from tests.support.clients import portal_client


def _tasks(tenant: Tenant) -> list[dict]:
    with schema_context(tenant.schema_name):
        return list(Task.objects.order_by("pk").values("title", "status", "assignee_id", "due_date"))


def test_a_member_with_change_creates_assigns_and_completes_a_task(
    tenant_a: Tenant, owner_a: User, member_factory
) -> None:
    member = member_factory(tenant_a, Role.MEMBER)
    colleague = member_factory(tenant_a, Role.MEMBER, full_name="Cole League")
    project = make_project(tenant_a, owner_a, "Apollo")
    grant(tenant_a, project, member, "view", "change")
    client = portal_client(tenant_a, member)

    response = client.post(
        f"/projects/{project.pk}/tasks/",
        {"title": "Write docs", "status": "todo", "assignee_id": str(colleague.pk), "due_date": "2030-01-31"},
    )
    assert response.status_code == 302
    [task] = _tasks(tenant_a)
    assert task["title"] == "Write docs"
    assert task["assignee_id"] == colleague.pk
    assert str(task["due_date"]) == "2030-01-31"
    with schema_context(tenant_a.schema_name):
        task_id = Task.objects.get().pk

    page = client.get(f"/projects/{project.pk}/")
    assert b"Cole League" in page.content
    assert b"Complete Write docs" in page.content

    assert client.post(f"/projects/{project.pk}/tasks/{task_id}/status/", {"status": "done"}).status_code == 302
    assert _tasks(tenant_a)[0]["status"] == "done"
    assert client.post(f"/projects/{project.pk}/tasks/{task_id}/status/", {"status": "todo"}).status_code == 302
    assert _tasks(tenant_a)[0]["status"] == "todo"
    with schema_context(tenant_a.schema_name):
        actions = list(AuditEvent.objects.filter(actor_email=member.email).values_list("action", flat=True))
    assert actions.count("task.updated") == 2
    assert "task.created" in actions


def test_bad_task_input_is_shown_next_to_its_field_and_writes_nothing(tenant_a: Tenant, owner_a: User) -> None:
    project = make_project(tenant_a, owner_a, "Apollo")
    client = portal_client(tenant_a, owner_a)
    before = snapshot(tenant_a)
    response = client.post(f"/projects/{project.pk}/tasks/", {"title": "", "status": "nope", "due_date": "31/31"})
    assert response.status_code == 400
    for field in ("title", "status", "due_date"):
        assert f'id="id_{field}_error"'.encode() in response.content, field
    # An assignee who is not a member: the service's rule, next to the field.
    outsider = User.objects.create_user(email="nobody@example.test", password="x" * 12)
    response = client.post(
        f"/projects/{project.pk}/tasks/", {"title": "T", "status": "todo", "assignee_id": str(outsider.pk)}
    )
    assert response.status_code == 400
    assert b'id="id_assignee_id_error"' in response.content
    assert snapshot(tenant_a) == before


def test_an_archived_project_keeps_its_tasks_frozen_until_restored(tenant_a: Tenant, owner_a: User) -> None:
    project = make_project(tenant_a, owner_a, "Apollo")
    client = portal_client(tenant_a, owner_a)
    assert client.post(f"/projects/{project.pk}/archive/", {"archived": "1"}).status_code == 302
    page = client.get(f"/projects/{project.pk}/")
    assert b"Restore project" in page.content
    assert b"Add task" not in page.content
    before = snapshot(tenant_a)
    response = client.post(f"/projects/{project.pk}/tasks/", {"title": "Late", "status": "todo"})
    assert response.status_code == 400
    assert b"archived" in response.content
    assert snapshot(tenant_a) == before
    # Archived projects leave the default list and appear under "Archived".
    assert b'data-project="Apollo"' not in client.get("/projects/").content
    assert b'data-project="Apollo"' in client.get("/projects/?show=archived").content
    assert client.post(f"/projects/{project.pk}/archive/", {"archived": "0"}).status_code == 302
    assert client.post(f"/projects/{project.pk}/tasks/", {"title": "Late", "status": "todo"}).status_code == 302


def test_the_api_sees_and_filters_the_archive_and_refuses_task_writes(tenant_a: Tenant, owner_a: User) -> None:
    api = Api(tenant_a, owner_a)
    active = make_project(tenant_a, owner_a, "Active")
    archived = make_project(tenant_a, owner_a, "Shelved")
    response = api.patch(f"/api/v1/projects/{archived.pk}/", {"archived": True})
    assert response.status_code == 200
    assert response.json()["archived"] is True
    assert response.json()["archived_at"]
    names = lambda q: [p["name"] for p in api.get("/api/v1/projects/", q).json()["results"]]  # noqa: E731
    assert names({"archived": "false"}) == ["Active"]
    assert names({"archived": "true"}) == ["Shelved"]
    assert sorted(names({})) == ["Active", "Shelved"]  # no parameter: every project, as before
    before = snapshot(tenant_a)
    refused = api.post(f"/api/v1/projects/{archived.pk}/tasks/", {"title": "Nope"})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "project_archived"
    assert snapshot(tenant_a) == before
    assert api.post(f"/api/v1/projects/{active.pk}/tasks/", {"title": "Yes"}).status_code == 201


def test_the_project_list_searches_sorts_and_pages(tenant_a: Tenant, owner_a: User) -> None:
    for i in range(23):
        make_project(tenant_a, owner_a, f"Project {i:02d}")
    make_project(tenant_a, owner_a, "Zeta rocket")
    client = portal_client(tenant_a, owner_a)
    shown = lambda body: re.findall(rb'data-project="([^"]+)"', body)  # noqa: E731
    first = client.get("/projects/?sort=name")
    assert shown(first.content)[:2] == [b"Project 00", b"Project 01"]
    assert len(shown(first.content)) == 20
    assert b"Page 1 of 2" in first.content
    second = client.get("/projects/?sort=name&page=2")
    assert shown(second.content) == [b"Project 20", b"Project 21", b"Project 22", b"Zeta rocket"]
    assert shown(client.get("/projects/?sort=-name").content)[0] == b"Zeta rocket"
    assert shown(client.get("/projects/?q=rocket").content) == [b"Zeta rocket"]
    # Nonsense in the query string falls back to the defaults instead of failing.
    assert client.get("/projects/?sort=password&show=everything&page=x").status_code == 200


def test_tasks_filter_by_status_and_assignee(tenant_a: Tenant, owner_a: User, member_factory) -> None:
    member = member_factory(tenant_a, Role.MEMBER)
    project = make_project(tenant_a, owner_a, "Apollo")
    with schema_context(tenant_a.schema_name):
        for title, status, assignee in [("A", "todo", member.pk), ("B", "done", member.pk), ("C", "todo", None)]:
            task_create(
                actor=Actor(user=owner_a),
                tenant=tenant_a,
                project=project,
                title=title,
                status=status,
                assignee_id=assignee,
            )
    client = portal_client(tenant_a, owner_a)
    shown = lambda q: sorted(re.findall(rb'data-task="([^"]+)"', client.get(f"/projects/{project.pk}/{q}").content))  # noqa: E731
    assert shown("") == [b"A", b"B", b"C"]
    assert shown("?status=todo") == [b"A", b"C"]
    assert shown(f"?assignee_id={member.pk}") == [b"A", b"B"]
    assert shown(f"?status=done&assignee_id={member.pk}") == [b"B"]
    assert shown("?status=bogus") == []


def test_project_rename_and_delete_go_through_the_services(tenant_a: Tenant, owner_a: User) -> None:
    project = make_project(tenant_a, owner_a, "Apollo")
    client = portal_client(tenant_a, owner_a)
    assert client.post(f"/projects/{project.pk}/edit/", {"name": "", "description": "x"}).status_code == 400
    assert (
        client.post(f"/projects/{project.pk}/edit/", {"name": "Artemis", "description": "To the Moon"}).status_code
        == 302
    )
    with schema_context(tenant_a.schema_name):
        assert Project.objects.values_list("name", "description").get() == ("Artemis", "To the Moon")
        project_update(actor=Actor(user=owner_a), project=Project.objects.get(), archived=True)
    assert client.post(f"/projects/{project.pk}/delete/").status_code == 302
    with schema_context(tenant_a.schema_name):
        assert not Project.objects.exists()
        assert AuditEvent.objects.filter(action="project.deleted", target_id=project.pk).exists()
