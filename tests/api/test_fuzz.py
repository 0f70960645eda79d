"""Schemathesis against the live schema of a tenant host, in process: no input may cause a 5xx."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import schemathesis
from django.db import transaction
from django.test import Client
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, Phase, given, settings

from shared_apps.accounts.models import Role
from tenant_apps.tokens.services import api_token_create
from tenants.base.actor import Actor
from tests.support.api import grant, make_project
from tests.support.clients import host_of

pytestmark = pytest.mark.django_db


def _send(client: Client, kwargs: dict[str, Any]):
    """Replay a schemathesis request (requests-style kwargs) through Django's test client, in process."""
    url = urlsplit(kwargs["url"])
    query = urlencode(kwargs.get("params") or {}, doseq=True)
    path = url.path + (f"?{query}" if query else "")
    extra = {
        "HTTP_" + name.upper().replace("-", "_"): str(value)
        for name, value in (kwargs.get("headers") or {}).items()
        if name.lower() not in ("host", "content-type", "content-length")
    }
    content_type = (kwargs.get("headers") or {}).get("Content-Type", "application/json")
    if "json" in kwargs:
        data: Any = json.dumps(kwargs["json"])
    else:
        data = kwargs.get("data") or b""
    return client.generic(kwargs["method"].upper(), path, data, content_type=content_type, **extra)


def test_no_input_causes_a_server_error(tenant_a, owner_a, member_factory):
    bob = member_factory(tenant_a, Role.MEMBER)
    project = make_project(tenant_a, owner_a)
    grant(tenant_a, project, bob, "view")
    with schema_context(tenant_a.schema_name):
        _, raw = api_token_create(actor=Actor(user=owner_a), user=owner_a)
    response = Client(HTTP_HOST=host_of(tenant_a)).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    raw_schema = json.loads(response.content)
    # Only this API's operations (billing's own endpoints talk to Stripe and are tested by billing).
    raw_schema["paths"] = {
        p: ops
        for p, ops in raw_schema["paths"].items()
        if p.startswith("/api/v1/") and not p.startswith("/api/v1/billing/")
    }
    schema = schemathesis.openapi.from_dict(raw_schema)
    client = Client(HTTP_HOST=host_of(tenant_a))
    base_url = f"http://{host_of(tenant_a)}"
    failures: list[str] = []
    calls = 0

    for operation in schema.get_all_operations():
        op = operation.ok()

        @given(case=op.as_strategy())
        @settings(
            max_examples=6,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            nonlocal calls
            calls += 1
            kwargs = case.as_transport_kwargs(base_url=base_url, headers={"Authorization": f"Bearer {raw}"})
            with transaction.atomic():  # each request in a savepoint: no case sees another's writes
                resp = _send(client, kwargs)
                transaction.set_rollback(True)
            if resp.status_code >= 500:
                failures.append(f"{case.method} {kwargs['url']} -> {resp.status_code}: {resp.content[:300]!r}")

        run()

    assert calls > 50
    assert not failures, "\n".join(failures)
