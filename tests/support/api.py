"""API test support: a JSON client, project and permission helpers, a snapshot of everything a write
could change, and the API suites' autouse fixtures (imported by tests/api/conftest.py and
tests/outgoing/conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from shared_apps.accounts.models import Membership, User
from tenant_apps.audit.models import AuditEvent
from tenant_apps.invitations.models import Invitation
from tenant_apps.members import services as member_services
from tenant_apps.members.models import Team, TeamMember
from tenant_apps.projects import services as project_services
from tenant_apps.projects.models import Project, ProjectGroupObjectPermission, ProjectUserObjectPermission, Task
from tenant_apps.tokens.models import ApiToken
from tenants.base.actor import Actor
from tenants.base.api.models import CorsOrigin
from tenants.models import Tenant
from tests.support.clients import host_of


class Api:
    """A JSON client for one tenant host, signed in by session or bearer token (or anonymous)."""

    def __init__(self, tenant: Tenant, user: User | None = None, token: str | None = None) -> None:
        extra: dict[str, str] = {"HTTP_HOST": host_of(tenant)}
        if token is not None:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        self.client = Client(**extra)
        if user is not None:
            self.client.force_login(user)

    def _send(self, method: str, path: str, body: Any = None, raw: bytes | str | None = None, **extra: Any):
        data: Any = raw if raw is not None else (json.dumps(body) if body is not None else None)
        kwargs: dict[str, Any] = {"content_type": "application/json", **extra}
        if data is not None:
            kwargs["data"] = data
        return getattr(self.client, method)(path, **kwargs)

    def get(self, path: str, params: dict | None = None, **extra: Any):
        return self.client.get(path, params or {}, **extra)

    def post(self, path: str, body: Any = None, **kw: Any):
        return self._send("post", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any):
        return self._send("patch", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any):
        return self._send("put", path, body, **kw)

    def delete(self, path: str, body: Any = None, **kw: Any):
        return self._send("delete", path, body, **kw)


@pytest.fixture(autouse=True)
def _generous_plan(settings: Any) -> None:
    """Unlimited seats and projects and a high rate unless a test narrows them."""
    settings.BILLING_PLANS = {
        **settings.BILLING_PLANS,
        "test": {"name": "Test", "limits": {"seats": None, "projects": None, "api_rpm": 100_000}, "features": []},
    }
    settings.BILLING_DEFAULT_PLAN = "test"


@pytest.fixture(autouse=True)
def _clear_throttles() -> Iterator[None]:
    from tenants.base.redis import redis_client

    yield
    for pattern in ("api-throttle", "api-cors"):
        for key in redis_client().scan_iter(f"{settings.CACHES['default']['KEY_PREFIX']}:*{pattern}*"):
            redis_client().delete(key)


def set_limits(settings: Any, **limits: int | None) -> None:
    plan = settings.BILLING_PLANS["test"]
    settings.BILLING_PLANS = {**settings.BILLING_PLANS, "test": {**plan, "limits": {**plan["limits"], **limits}}}


def make_project(tenant: Tenant, creator: User, name: str = "Apollo") -> Project:
    with schema_context(tenant.schema_name):
        return project_services.project_create(actor=Actor(user=creator), tenant=tenant, name=name)


def grant(tenant: Tenant, project: Project, user: User, *names: str) -> None:
    with schema_context(tenant.schema_name):
        project_services.project_permission_grant(
            actor=Actor(user=None),
            tenant=tenant,
            project=project,
            user_id=user.pk,
            codenames={f"{n}_project" for n in names},
        )


def make_team(tenant: Tenant, name: str, *members: User) -> Team:
    with schema_context(tenant.schema_name):
        team = member_services.team_create(actor=Actor(user=None), name=name)
        for user in members:
            member_services.team_member_add(actor=Actor(user=None), tenant=tenant, team=team, user_id=user.pk)
        return team


def grant_team(tenant: Tenant, project: Project, team: Team, *names: str) -> None:
    with schema_context(tenant.schema_name):
        project_services.project_team_permission_grant(
            actor=Actor(user=None), project=project, team_id=team.pk, codenames={f"{n}_project" for n in names}
        )


def audit_count(tenant: Tenant) -> int:
    with schema_context(tenant.schema_name):
        return AuditEvent.objects.count()


def snapshot(tenant: Tenant) -> dict[str, list]:
    """Everything an API write could change in a tenant (its schema plus its public membership rows)."""
    with schema_context(tenant.schema_name):
        return {
            "projects": list(Project.objects.order_by("pk").values()),
            "tasks": list(Task.objects.order_by("pk").values()),
            "perms": list(ProjectUserObjectPermission.objects.order_by("pk").values()),
            "team_perms": list(ProjectGroupObjectPermission.objects.order_by("pk").values()),
            "teams": list(Team.objects.order_by("pk").values()),
            "team_members": list(TeamMember.objects.order_by("pk").values()),
            "tokens": list(ApiToken.objects.order_by("pk").values()),
            "invitations": list(Invitation.objects.order_by("pk").values()),
            "audit": list(AuditEvent.objects.order_by("pk").values_list("pk", flat=True)),
            "members": list(Membership.objects.filter(tenant=tenant).order_by("pk").values()),
            "cors": list(CorsOrigin.objects.filter(tenant_id=tenant.pk).order_by("pk").values()),
        }
