"""The other surfaces for an organization on the second cluster: the portal reads and writes its
schema there, operator commands act on it there, and Stripe webhooks and billing keep working for
it, also while a move holds its writes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import psycopg
from django.core.management import call_command
from django.utils import timezone

from billing import services as billing_services
from billing.models import Subscription
from shared_apps.accounts.models import User
from tenants.models import Tenant, TenantStatus
from tenants.resolution import resolution_cache_invalidate
from tenants.shards import shard_conninfo
from tests.billing.support import _stripe_settings, deliver_and_process, events_for, standin, standin_call
from tests.shards.support import SHARD, Committed
from tests.support.api import Api
from tests.support.clients import portal_client

__all__ = ["_stripe_settings", "standin"]  # fixtures: the Stripe stand-in for the billing test


def _projects(alias: str, schema: str) -> list[str] | None:
    """Project names in the organization's schema on a shard (None: no such schema there)."""
    with psycopg.connect(shard_conninfo(alias), autocommit=True) as conn:
        if conn.execute("SELECT to_regclass(%s)", [f'"{schema}".projects_project']).fetchone()[0] is None:
            return None
        return [r[0] for r in conn.execute(f'SELECT name FROM "{schema}".projects_project ORDER BY id').fetchall()]


def test_the_portal_reads_and_writes_the_organizations_schema_on_its_shard(committed: Committed) -> None:
    org = committed.org("portal-far", shard=SHARD)
    owner = User.objects.get(email=f"owner@{org.slug}.test")
    client = portal_client(org, owner)
    assert client.get("/").status_code == 200
    response = client.post("/projects/", {"name": "Made in the portal", "description": ""})
    assert response.status_code == 302, response.content
    assert _projects(SHARD, org.schema_name) == ["Made in the portal"]
    assert _projects("default", org.schema_name) is None  # nothing of it on the control database
    page = client.get("/projects/")
    assert page.status_code == 200
    assert b"Made in the portal" in page.content


def test_checkout_webhooks_and_seats_work_for_an_organization_on_a_shard_even_during_a_move_pause(
    committed: Committed, standin: object
) -> None:
    org = committed.org("billed-far", shard=SHARD)
    billing_services.plans_sync()
    owner = User.objects.get(email=f"owner@{org.slug}.test")
    api = Api(org, user=owner)
    r = api.post("/api/v1/billing/checkout/", {"plan": "team"})
    assert r.status_code == 201, r.content
    session_id = r.json()["url"].rstrip("/").split("/")[-1]
    standin_call(standin, "POST", f"/checkout/{session_id}/complete", {"email": owner.email})
    completed = next(e for e in events_for(standin, types=("checkout.session.completed",)))

    # A move holds the organization's writes: its API writes wait, Stripe's events are still applied.
    Tenant.objects.filter(pk=org.pk).update(writes_paused_at=timezone.now())
    resolution_cache_invalidate()  # as the move does
    assert api.post("/api/v1/projects/", {"name": "wait"}).status_code == 503
    row = deliver_and_process(completed)
    assert row.tenant_id == org.pk
    assert row.status == "processed"
    sub = Subscription.objects.get(tenant=org)
    assert (sub.status, sub.plan_code) == ("active", "team")
    assert Tenant.objects.get(pk=org.pk).status == TenantStatus.ACTIVE

    Tenant.objects.filter(pk=org.pk).update(writes_paused_at=None)
    resolution_cache_invalidate()
    overview = api.get("/api/v1/billing/")
    assert overview.status_code == 200, overview.content
    assert overview.json()["plan"] == "team"
    billing_services.seats_sync(tenant_id=org.pk, change_id="far:seats")
    remote = standin_call(standin, "GET", f"/v1/subscriptions/{sub.stripe_subscription_id}")
    assert remote["items"]["data"][0]["quantity"] == 1
    assert _projects(SHARD, org.schema_name) == []  # the paused write did not land anywhere


def test_operator_commands_act_on_the_organizations_shard(committed: Committed, tmp_path: Path) -> None:
    org = committed.org("cmd-far", shard=SHARD)
    owner = User.objects.get(email=f"owner@{org.slug}.test")
    api = Api(org, user=owner)
    assert api.post("/api/v1/projects/", {"name": "Exported"}).status_code == 201
    target = tmp_path / "export.json"
    call_command("tenant", "export", org.slug, "-o", str(target), "--no-progress", stdout=io.StringIO())
    exported = json.loads(target.read_text())
    assert [row["name"] for row in exported["data"]["projects.Project"]] == ["Exported"]
    assert [m["email"] for m in exported["members"]] == [owner.email]

    call_command("tenant", "suspend", org.slug, stdout=io.StringIO())
    refused = api.post("/api/v1/projects/", {"name": "while suspended"})
    assert refused.status_code == 402, refused.content
    call_command("tenant", "reactivate", org.slug, stdout=io.StringIO())
    assert api.post("/api/v1/projects/", {"name": "again"}).status_code == 201
    assert _projects(SHARD, org.schema_name) == ["Exported", "again"]
