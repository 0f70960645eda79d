"""The schema is a contract (issue 13, point 7): the committed copy docs/openapi/v1.json matches the
live schema, a breaking change to /api/v1/ is named, and a client generated from the live schema by
openapi-python-client runs the README's API session over real HTTP."""

from __future__ import annotations

import copy
import importlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django_tenants.utils import schema_context
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from shared_apps.accounts.models import Membership
from tenant_apps.audit.models import AuditEvent
from tenant_apps.invitations.models import Invitation
from tenant_apps.projects.models import Project
from tenant_apps.tokens.models import ApiToken
from tenants.base.api.models import IdempotencyKey
from tests.api.schema_contract import breaking_changes
from tests.billing.support import LiveDjango, in_thread
from tests.factories import TEST_PASSWORD
from tests.support.clients import host_of

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "openapi" / "v1.json"
UPDATE = (
    "DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python manage.py spectacular "
    "--format openapi-json --file docs/openapi/v1.json"
)


def live_schema() -> dict[str, Any]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema, renderer_context={}))


def test_committed_schema_copy_is_current_and_no_change_is_breaking() -> None:
    committed = json.loads(COMMITTED.read_text())
    live = live_schema()
    broken = breaking_changes(committed, live)
    assert not broken, (
        "Breaking changes to /api/v1/ (update docs/openapi/v1.json in the same change only if intended):\n"
        + "\n".join(broken)
    )
    # `servers` names this deployment's TENANT_BASE_DOMAIN: checked for its shape, not its host.
    for doc in (committed, live):
        [server] = doc.pop("servers")
        assert "{organization}" in server["url"]
        assert "organization" in server["variables"]
    assert live == committed, f"The API schema changed (not breakingly): refresh the committed copy with\n  {UPDATE}"


def _project_output(schema: dict) -> dict:
    return schema["components"]["schemas"]["ProjectOutput"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: s["paths"].pop("/api/v1/projects/"), "/api/v1/projects/: path removed"),
        (lambda s: s["paths"]["/api/v1/projects/"].pop("post"), "POST /api/v1/projects/: operation removed"),
        (lambda s: _project_output(s)["properties"].pop("name"), "response field removed"),
        (lambda s: _project_output(s)["properties"]["id"].update(type="string"), "type"),
        (lambda s: _project_output(s)["properties"]["description"].update(nullable=True), "may now be null"),
        (
            lambda s: s["components"]["schemas"]["ProjectCreateInputRequest"]["required"].append("description"),
            "became required",
        ),
        (
            lambda s: (
                s["components"]["schemas"]["ProjectCreateInputRequest"]["properties"].update(color={"type": "string"})
                or s["components"]["schemas"]["ProjectCreateInputRequest"]["required"].append("color")
            ),
            "new required request field",
        ),
        (lambda s: s["components"]["schemas"]["TaskStatusEnum"]["enum"].pop(), "enum"),
        (lambda s: s["paths"]["/api/v1/projects/"]["post"]["responses"].pop("201"), "response 201 removed"),
    ],
)
def test_breaking_changes_are_detected(change: Any, expected: str) -> None:
    old = json.loads(COMMITTED.read_text())
    new = copy.deepcopy(old)
    change(new)
    found = breaking_changes(old, new)
    assert any(expected in line for line in found), found


def test_additions_are_not_breaking() -> None:
    old = json.loads(COMMITTED.read_text())
    new = copy.deepcopy(old)
    _project_output(new)["properties"]["color"] = {"type": "string"}
    new["components"]["schemas"]["ProjectCreateInputRequest"]["properties"]["color"] = {"type": "string"}
    new["paths"]["/api/v1/colors/"] = {"get": {"responses": {"200": {"description": ""}}}}
    assert breaking_changes(old, new) == []


# --- A generated client runs the README's session ---------------------------------------------------


@pytest.fixture
def generated_client(tmp_path: Path) -> Iterator[Any]:
    schema_path = tmp_path / "schema.json"
    schema_path.write_text(json.dumps(live_schema()))
    config = tmp_path / "config.yaml"
    config.write_text(
        "post_hooks: []\nproject_name_override: tenantry_client\npackage_name_override: tenantry_client\n"
    )
    out = tmp_path / "gen"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(schema_path),
            "--output-path",
            str(out / "tenantry_client"),
            "--meta",
            "none",
            "--config",
            str(config),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("tenantry_client")
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == "tenantry_client" or m.startswith("tenantry_client.")]:
            del sys.modules[name]


@pytest.fixture
def committed_session(tenant_a: Any) -> Iterator[None]:
    """The session's writes are committed by the server threads: remove them afterwards."""
    from tests.browser.support import baseline_take, committed_cleanup

    def floors() -> dict[str, int]:
        with schema_context(tenant_a.schema_name):
            return {
                m.__name__: m.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
                for m in (Project, ApiToken, Invitation, AuditEvent)
            }

    baseline = in_thread(baseline_take)
    before = in_thread(floors)
    yield

    def cleanup() -> None:
        with schema_context(tenant_a.schema_name):
            for model in (Project, ApiToken, Invitation, AuditEvent):
                model.objects.filter(pk__gt=before[model.__name__]).delete()
        IdempotencyKey.objects.filter(tenant_id=tenant_a.pk).delete()
        Membership.objects.filter(tenant=tenant_a, user__pk__gt=baseline.user_pk).delete()
        committed_cleanup(baseline)

    in_thread(cleanup)


@pytest.mark.usefixtures("committed_session")
def test_generated_client_runs_the_readme_session(generated_client: Any, tenant_a: Any) -> None:
    c = generated_client
    from tenantry_client.api.auth import auth_token_create
    from tenantry_client.api.invitations import invitations_accept, invitations_create
    from tenantry_client.api.me import me_retrieve
    from tenantry_client.api.projects import (
        project_permissions_grant,
        projects_create,
        projects_list,
        projects_partial_update,
        tasks_create,
    )
    from tenantry_client.models import (
        InvitationAcceptInputRequest,
        InvitationCreateInputRequest,
        PatchedProjectUpdateInputRequest,
        PermissionGrantInputRequest,
        PermissionsEnum,
        ProjectCreateInputRequest,
        TaskCreateInputRequest,
        TokenCreateInputRequest,
    )

    server = LiveDjango()
    clients: list[Any] = []
    try:
        headers = {"Host": host_of(tenant_a)}
        anon = c.Client(base_url=server.url, headers=headers, raise_on_unexpected_status=True)
        # 1. A token for the owner, then who am I.
        created = auth_token_create.sync_detailed(
            client=anon,
            body=TokenCreateInputRequest(
                email="owner@alpha.test", password=TEST_PASSWORD, name="laptop", expires_in_days=30
            ),
        )
        assert created.status_code == 201, created.content
        owner = c.AuthenticatedClient(base_url=server.url, token=created.parsed.token, headers=headers)
        clients += [anon, owner]
        me = me_retrieve.sync(client=owner)
        assert me.user.email == "owner@alpha.test"
        assert me.credential.scopes == ["read", "write", "admin"]
        # 2. A project (with an Idempotency-Key: the retry is a replay) and a task.
        project = projects_create.sync_detailed(
            client=owner,
            body=ProjectCreateInputRequest(name="Launch", description="Q3 launch plan"),
            idempotency_key="readme-1",
        )
        again = projects_create.sync_detailed(
            client=owner,
            body=ProjectCreateInputRequest(name="Launch", description="Q3 launch plan"),
            idempotency_key="readme-1",
        )
        assert project.status_code == again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.parsed.id == project.parsed.id
        assert "RateLimit-Limit" in project.headers
        task = tasks_create.sync_detailed(
            client=owner, project_id=project.parsed.id, body=TaskCreateInputRequest(title="Write the announcement")
        )
        assert task.status_code == 201
        # 3. Invite a colleague; her token arrives by mail only.
        invite = invitations_create.sync_detailed(
            client=owner, body=InvitationCreateInputRequest(email="bea@alpha-readme.test")
        )
        assert invite.status_code == 201
        assert b"inv_" not in invite.content
        [message] = [m for m in mail.outbox if m.to == ["bea@alpha-readme.test"]]
        token = re.search(r"inv_[A-Za-z0-9_-]+", message.body).group(0)
        accepted = invitations_accept.sync_detailed(
            client=anon, body=InvitationAcceptInputRequest(token=token, password="bea-strong-passphrase")
        )
        assert accepted.status_code in (200, 201), accepted.content
        bea_id = json.loads(accepted.content)["user_id"]
        # 4. Share the project with her (view only).
        shared = project_permissions_grant.sync_detailed(
            client=owner,
            project_id=project.parsed.id,
            body=PermissionGrantInputRequest(user_id=bea_id, permissions=[PermissionsEnum("view")]),
        )
        assert shared.status_code == 200
        # 5. As Bea: she sees exactly the shared project, and may not edit it.
        bea_token = auth_token_create.sync(
            client=anon, body=TokenCreateInputRequest(email="bea@alpha-readme.test", password="bea-strong-passphrase")
        )
        bea = c.AuthenticatedClient(base_url=server.url, token=bea_token.token, headers=headers)
        clients.append(bea)
        listed = projects_list.sync(client=bea)
        assert [p.id for p in listed.results] == [project.parsed.id]
        denied = projects_partial_update.sync_detailed(
            client=bea, project_id=project.parsed.id, body=PatchedProjectUpdateInputRequest(name="Mine now")
        )
        assert denied.status_code == 403
        assert denied.parsed.error.code == "permission_denied"
        # Cursor mode through the client, too.
        page = projects_list.sync(client=owner, cursor="")
        assert project.parsed.id in [p.id for p in page.results]
    finally:
        for client in clients:  # no kept-alive connection holds a server thread (and its database session)
            client.get_httpx_client().close()
        server.stop()
