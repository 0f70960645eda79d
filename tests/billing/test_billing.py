"""Billing domain against the stand-in: customers, entitlements, seats, dunning, usage, reconcile, API."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from billing import services, usage
from billing.models import BillingCustomer, DriftReport, Invoice, Plan, Subscription
from billing.selectors import entitlements_for_tenant
from billing.tasks import create_customer
from shared_apps.accounts.models import Membership, Role
from shared_apps.accounts.services import membership_remove
from tenant_apps.projects.models import Project
from tenants.models import Tenant, TenantStatus
from tenants.resolution import resolution_cache_invalidate
from tenants.services import tenant_set_status
from tests.billing.support import customer_for, deliver_and_process, events_for, standin_call, subscribe
from tests.support.clients import tenant_client

pytestmark = pytest.mark.django_db


def _sub_event(standin, sub_id: str, type_: str) -> dict:
    for e in reversed(events_for(standin, types=(type_,))):
        obj = e["data"]["object"]
        parent = (obj.get("parent") or {}).get("subscription_details") or {}
        if obj["id"] == sub_id or parent.get("subscription") == sub_id:
            return e
    raise AssertionError(f"no {type_} for {sub_id}")


@pytest.fixture
def subscribed(standin, tenant_a):
    services.plans_sync()
    customer = customer_for(tenant_a)
    sub = subscribe(standin, customer, "team", 1)
    deliver_and_process(_sub_event(standin, sub["id"], "customer.subscription.created"))
    return Subscription.objects.get(stripe_subscription_id=sub["id"])


def test_sync_plans_is_idempotent(standin) -> None:
    out = io.StringIO()
    call_command("sync_plans", stdout=out)
    first = dict(Plan.objects.values_list("code", "stripe_price_id"))
    call_command("sync_plans", stdout=io.StringIO())
    assert dict(Plan.objects.values_list("code", "stripe_price_id")) == first
    assert set(first) == {"free", "team", "business"}
    assert all(first.values())
    prices = standin_call(standin, "GET", "/v1/prices?limit=100")["data"]
    assert len(prices) == 3


def test_customer_creation_task_is_idempotent(standin, tenant_a) -> None:
    first = create_customer.run(tenant_a.pk)
    BillingCustomer.objects.all().delete()  # lost the row: the retried task must not create a second customer
    second = create_customer.run(tenant_a.pk)
    assert first == second
    assert len(standin_call(standin, "GET", "/v1/customers?limit=100")["data"]) == 1


def test_provisioning_creates_the_stripe_customer(standin, settings, django_capture_on_commit_callbacks) -> None:
    """The organization-provisioned announcement reaches billing, and its task creates the customer in Stripe."""
    from config.celery import app
    from shared_apps.accounts.services import organization_provision

    settings.BILLING_CREATE_CUSTOMERS = True
    app.conf.task_always_eager = True  # run the enqueued task here, as a worker would
    try:
        with django_capture_on_commit_callbacks(execute=True):
            tenant = organization_provision(slug="billing-hook", name="Hook", owner_email="o@hook.test")
    finally:
        app.conf.task_always_eager = False
    customer = BillingCustomer.objects.get(tenant_id=tenant.pk)
    remote = standin_call(standin, "GET", "/v1/customers?limit=100")["data"]
    assert [c["id"] for c in remote] == [customer.stripe_customer_id]


@pytest.mark.usefixtures("subscribed")
def test_entitlements_follow_the_subscription(tenant_a) -> None:
    ent = entitlements_for_tenant(tenant=tenant_a)
    assert ent.plan == "team"
    assert ent.seats == 25
    assert "audit_log" in ent.features
    assert not ent.read_only
    tenant_set_status(tenant=tenant_a, status=TenantStatus.SUSPENDED)
    assert entitlements_for_tenant(tenant=Tenant.objects.get(pk=tenant_a.pk)).read_only


def test_default_plan_without_subscription(tenant_b) -> None:
    ent = entitlements_for_tenant(tenant=tenant_b)
    assert ent.plan == "free"
    assert ent.seats == 3


def test_seats_follow_members(
    standin, subscribed, tenant_a, member_factory, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        member_factory(tenant_a, Role.MEMBER)
    assert callbacks, "membership_add registers the seat hook"
    count = Membership.objects.filter(tenant=tenant_a).count()
    assert services.seats_sync(tenant_id=tenant_a.pk, change_id="add:test") == count
    remote = standin_call(standin, "GET", f"/v1/subscriptions/{subscribed.stripe_subscription_id}")
    assert remote["items"]["data"][0]["quantity"] == count
    updates = len(events_for(standin, types=("customer.subscription.updated",)))
    # A retried task (same change) makes no second write.
    services.seats_sync(tenant_id=tenant_a.pk, change_id="add:test")
    assert len(events_for(standin, types=("customer.subscription.updated",))) == updates
    membership_remove(membership=Membership.objects.filter(tenant=tenant_a, role=Role.MEMBER).last())
    services.seats_sync(tenant_id=tenant_a.pk, change_id="remove:test")
    remote = standin_call(standin, "GET", f"/v1/subscriptions/{subscribed.stripe_subscription_id}")
    assert remote["items"]["data"][0]["quantity"] == count - 1


def test_dunning_past_due_suspended_then_restored(standin, subscribed, tenant_a) -> None:
    sub_id = subscribed.stripe_subscription_id
    standin_call(standin, "POST", "/_standin/advance", {"subscription": sub_id, "action": "fail_payment"})
    deliver_and_process(_sub_event(standin, sub_id, "invoice.payment_failed"))
    tenant = Tenant.objects.get(pk=tenant_a.pk)
    assert tenant.status == TenantStatus.PAST_DUE
    assert services.dunning_suspend_overdue() == []  # still in grace
    later = timezone.now() + dt.timedelta(days=8)
    assert services.dunning_suspend_overdue(now=later) == ["alpha"]
    assert entitlements_for_tenant(tenant=Tenant.objects.get(pk=tenant_a.pk)).read_only
    standin_call(standin, "POST", "/_standin/advance", {"subscription": sub_id, "action": "pay"})
    deliver_and_process(_sub_event(standin, sub_id, "invoice.paid"))
    assert Tenant.objects.get(pk=tenant_a.pk).status == TenantStatus.ACTIVE
    assert Invoice.objects.filter(tenant=tenant_a, status="paid").exists()


@pytest.mark.usefixtures("subscribed")
def test_usage_reported_once_per_tenant_hour(standin, tenant_a) -> None:
    past = timezone.now() - dt.timedelta(hours=2)
    bucket = usage.hour_bucket(past)
    from tenants.base.redis import redis_client

    redis_client().delete(usage.usage_key(tenant_a.pk, bucket), usage.reported_key(tenant_a.pk, bucket))
    for _ in range(3):
        usage.usage_increment(tenant_a.pk, now=past)
    assert usage.usage_report() >= 1
    assert usage.usage_report() == 0
    customer = BillingCustomer.objects.get(tenant=tenant_a)
    sent = standin_call(standin, "GET", f"/_standin/meter_events?customer={customer.stripe_customer_id}")["data"]
    mine = [e for e in sent if e.get("identifier") == f"tenantry-usage-{tenant_a.pk}-{bucket}"]
    assert len(mine) == 1
    assert str(mine[0]["payload"]["value"]) == "3"
    redis_client().delete(usage.usage_key(tenant_a.pk, bucket), usage.reported_key(tenant_a.pk, bucket))


@pytest.mark.usefixtures("standin")
def test_reconcile_repairs_drift_and_stores_report(subscribed) -> None:
    Subscription.objects.filter(pk=subscribed.pk).update(quantity=9, status="past_due")
    out = io.StringIO()
    call_command("reconcile_billing", "--no-create-customers", stdout=out)
    subscribed.refresh_from_db()
    assert subscribed.quantity == 1
    assert subscribed.status == "active"
    report = DriftReport.objects.latest("started_at")
    fields = {(i["kind"], i["field"]) for i in report.items}
    assert ("subscription", "quantity") in fields
    assert ("subscription", "status") in fields
    assert "drift" in out.getvalue()


# --- Tenant billing API ------------------------------------------------------------------------


@pytest.mark.usefixtures("subscribed")
def test_billing_api_roles(tenant_a, tenant_b, owner_a, member_factory) -> None:
    owner = tenant_client(tenant_a, owner_a).get("/api/v1/billing/")
    assert owner.status_code == 200, owner.content
    body = owner.json()
    assert body["plan"] == "team"
    assert body["subscription"]["quantity"] == 1
    billing_user = member_factory(tenant_a, Role.BILLING)
    assert tenant_client(tenant_a, billing_user).get("/api/v1/billing/invoices/").status_code == 200
    member = member_factory(tenant_a, Role.MEMBER)
    denied = tenant_client(tenant_a, member).get("/api/v1/billing/")
    assert denied.status_code == 403
    assert "error" in denied.json()
    stranger = member_factory(tenant_b, Role.OWNER)
    assert tenant_client(tenant_a, stranger).get("/api/v1/billing/").status_code == 404
    assert tenant_client(tenant_a).get("/api/v1/billing/").status_code in (401, 403)


@pytest.mark.usefixtures("subscribed")
def test_checkout_validation_and_already_subscribed(tenant_a, owner_a) -> None:
    client = tenant_client(tenant_a, owner_a)
    bad = client.post("/api/v1/billing/checkout/", {"plan": "gold"}, content_type="application/json")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"]
    missing = client.post("/api/v1/billing/checkout/", {}, content_type="application/json")
    assert missing.status_code == 400
    dup = client.post("/api/v1/billing/checkout/", {"plan": "team"}, content_type="application/json")
    assert dup.status_code in (400, 409)
    portal = client.post("/api/v1/billing/portal/", content_type="application/json")
    assert portal.status_code == 201
    assert portal.json()["url"].startswith("http")


@pytest.mark.usefixtures("subscribed")
def test_suspended_owner_can_still_reach_the_portal_but_not_write(tenant_a, owner_a) -> None:
    Tenant.objects.filter(pk=tenant_a.pk).update(status=TenantStatus.SUSPENDED)
    resolution_cache_invalidate()
    client = tenant_client(tenant_a, owner_a)
    portal = client.post("/api/v1/billing/portal/", content_type="application/json")
    assert portal.status_code == 201
    assert portal.json()["url"].startswith("http")
    blocked = client.post("/api/v1/projects/", {"name": "x"}, content_type="application/json")
    assert blocked.status_code == 402
    with schema_context(tenant_a.schema_name):
        assert not Project.objects.filter(name="x").exists()


def test_checkout_flow_to_active_and_seats(standin, tenant_b, member_factory) -> None:
    services.plans_sync()
    owner = Membership.objects.get(tenant=tenant_b, role=Role.OWNER).user
    client = tenant_client(tenant_b, owner)
    response = client.post("/api/v1/billing/checkout/", {"plan": "team"}, content_type="application/json")
    assert response.status_code == 201, response.content
    url = response.json()["url"]
    cs_id = url.rstrip("/").split("/")[-1]
    again = client.post("/api/v1/billing/checkout/", {"plan": "team"}, content_type="application/json")
    assert again.json()["url"] == url  # deterministic idempotency key: same session
    standin_call(standin, "POST", f"/checkout/{cs_id}/complete", {"email": "owner@beta.test"})
    completed = next(e for e in events_for(standin, types=("checkout.session.completed",)))
    row = deliver_and_process(completed)
    assert row.tenant_id == tenant_b.pk
    sub = Subscription.objects.get(tenant=tenant_b)
    assert sub.status == "active"
    assert sub.plan_code == "team"
    assert Tenant.objects.get(pk=tenant_b.pk).status == TenantStatus.ACTIVE
    member_factory(tenant_b, Role.MEMBER)
    services.seats_sync(tenant_id=tenant_b.pk, change_id="add:flow")
    remote = standin_call(standin, "GET", f"/v1/subscriptions/{sub.stripe_subscription_id}")
    assert remote["items"]["data"][0]["quantity"] == 2
    assert entitlements_for_tenant(tenant=Tenant.objects.get(pk=tenant_b.pk)).plan == "team"


def test_finance_reads_the_revenue_history_the_webhooks_record(subscribed, standin, member_factory) -> None:
    """The finance figures (tests/finance has them all) come from what the real webhook handlers
    mirror: a seat added through Stripe becomes an expansion of the organization's MRR."""
    from billing.models import SubscriptionRevision
    from shared_apps.accounts.models import User

    staff = User.objects.create_user(email="fin@platform.test", password="x" * 12, is_staff=True)
    client = Client(HTTP_HOST="localhost")
    assert client.get("/finance/").status_code == 302
    assert client.get("/finance/api/").status_code == 401
    client.force_login(staff)
    assert client.get("/finance/api/").json()["mrr"]["usd"] == {
        "total": "12.00",
        "arr": "144.00",
        "by_plan": {"team": "12.00"},
    }
    member_factory(subscribed.tenant, Role.MEMBER)
    services.seats_sync(tenant_id=subscribed.tenant_id, change_id="add:finance")
    deliver_and_process(_sub_event(standin, subscribed.stripe_subscription_id, "customer.subscription.updated"))
    revisions = SubscriptionRevision.objects.filter(subscription=subscribed).order_by("effective_at", "id")
    assert [(r.status, r.quantity, r.interval, r.mrr) for r in revisions] == [
        ("active", 1, "month", 1200),
        ("active", 2, "month", 2400),
    ]
    summary = client.get("/finance/api/").json()
    assert summary["mrr"]["usd"]["total"] == "24.00"
    assert summary["months"][-1]["movements"]["usd"] == {
        "new": "24.00",  # new this month (opening 0), so the seat counts as part of it
        "expansion": "0.00",
        "contraction": "0.00",
        "churned": "0.00",
        "reactivated": "0.00",
        "net": "24.00",
    }
    csv = client.get("/finance/invoices.csv")
    assert csv.status_code == 200
    assert csv.content.startswith(b"created,tenant,invoice")


def test_served_api_requests_are_counted_for_usage_billing(tenant_a, owner_a) -> None:
    before = usage.usage_current_hour(tenant_a.pk)
    client = tenant_client(tenant_a, owner_a)
    assert client.get("/api/v1/me/").status_code == 200
    assert client.get("/api/v1/projects/").status_code == 200
    assert client.get("/api/v1/projects/999999/").status_code == 404  # not served: not counted
    assert tenant_client(tenant_a).get("/api/v1/me/").status_code in (401, 403)  # anonymous: not counted
    assert usage.usage_current_hour(tenant_a.pk) == before + 2
