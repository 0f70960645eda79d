"""The remaining handled event types, each produced by the stand-in (over HTTP), delivered signed through
POST /webhooks/stripe/, processed, and checked where a user sees it: the mirror, the tenant's status and
the billing API (overview notices, invoices)."""

from __future__ import annotations

import datetime as dt
import urllib.request

import pytest

from billing import services
from billing.models import BillingCustomer, Invoice, Subscription
from billing.selectors import entitlements_for_tenant
from shared_apps.accounts.models import User
from tenants.models import Tenant, TenantStatus
from tests.billing.support import (
    customer_for,
    deliver,
    deliver_and_process,
    event_for,
    standin_call,
    subscribe,
)
from tests.support.clients import tenant_client
from webhooks.models import EventStatus, WebhookEvent

pytestmark = pytest.mark.django_db

TEAM_PRICE = 1200  # settings.BILLING_PLANS["team"]["unit_amount"]


def _processed(event: dict) -> WebhookEvent:
    row = deliver_and_process(event)
    assert row.status == EventStatus.PROCESSED, (row.status, row.last_error)
    return row


def _overview(tenant: Tenant, owner: User) -> dict:
    response = tenant_client(tenant, owner).get("/api/v1/billing/")
    assert response.status_code == 200, response.content
    return response.json()


def _invoices_api(tenant: Tenant, owner: User) -> dict[str, dict]:
    response = tenant_client(tenant, owner).get("/api/v1/billing/invoices/")
    assert response.status_code == 200, response.content
    return {row["id"]: row for row in response.json()["results"]}


@pytest.fixture
def active_team(standin, tenant_a) -> Subscription:
    """tenant_a on the Team plan (2 seats), mirrored from its customer.subscription.created."""
    services.plans_sync()
    sub = subscribe(standin, customer_for(tenant_a), "team", 2)
    _processed(event_for(standin, "customer.subscription.created", sub["id"]))
    mirror = Subscription.objects.get(stripe_subscription_id=sub["id"])
    assert mirror.status == "active"
    assert mirror.plan_code == "team"
    assert Tenant.objects.get(pk=tenant_a.pk).status == TenantStatus.ACTIVE
    return mirror


# --- customer.updated ------------------------------------------------------------------------------


def test_customer_updated_mirrors_email_and_name_in_any_order(standin, tenant_a) -> None:
    customer = customer_for(tenant_a)
    cus_id = customer.stripe_customer_id
    # The customer edits their billing details (Customer Portal / dashboard): two updates in Stripe.
    standin_call(standin, "POST", f"/v1/customers/{cus_id}", {"email": "finance@alpha.test", "name": "Alpha Ltd"})
    first = event_for(standin, "customer.updated", cus_id)
    standin_call(standin, "POST", f"/v1/customers/{cus_id}", {"name": "Alpha GmbH"})
    second = event_for(standin, "customer.updated", cus_id)
    assert first["id"] != second["id"]

    # Delivered newest first: the older event arriving late must not roll the name back.
    assert _processed(second).tenant_id == tenant_a.pk
    _processed(first)
    mirror = BillingCustomer.objects.get(tenant=tenant_a)
    assert (mirror.email, mirror.name) == ("finance@alpha.test", "Alpha GmbH")
    assert not mirror.delinquent
    assert WebhookEvent.objects.filter(type="customer.updated", status=EventStatus.PROCESSED).count() == 2


# --- charge.refunded -------------------------------------------------------------------------------


@pytest.mark.usefixtures("active_team")
def test_charge_refunded_records_refunds_on_the_invoice(standin, tenant_a, owner_a) -> None:
    customer = BillingCustomer.objects.get(tenant=tenant_a)
    [charge] = standin_call(standin, "GET", f"/v1/charges?customer={customer.stripe_customer_id}")["data"]
    assert charge["amount"] == 2 * TEAM_PRICE
    assert charge["amount_refunded"] == 0

    # A partial refund (issued in Stripe, e.g. from the dashboard) ...
    standin_call(standin, "POST", "/v1/refunds", {"charge": charge["id"], "amount": 500})
    partial = event_for(standin, "charge.refunded", charge["id"])
    assert _processed(partial).tenant_id == tenant_a.pk
    invoice = Invoice.objects.get(tenant=tenant_a)
    assert (invoice.status, invoice.amount_paid, invoice.amount_refunded) == ("paid", 2 * TEAM_PRICE, 500)
    assert _invoices_api(tenant_a, owner_a)[invoice.stripe_invoice_id]["amount_refunded"] == 500

    # ... then the rest, through the stand-in's control endpoint.
    standin_call(standin, "POST", "/_standin/refund", {"charge": charge["id"]})
    full = event_for(standin, "charge.refunded", charge["id"])
    assert full["id"] != partial["id"]
    _processed(full)
    invoice.refresh_from_db()
    assert invoice.amount_refunded == 2 * TEAM_PRICE
    # Stripe resends the first event: a duplicate, nothing changes.
    again = deliver(partial)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    invoice.refresh_from_db()
    assert invoice.amount_refunded == 2 * TEAM_PRICE
    assert Invoice.objects.filter(tenant=tenant_a).count() == 1
    assert _invoices_api(tenant_a, owner_a)[invoice.stripe_invoice_id]["amount_refunded"] == 2 * TEAM_PRICE


@pytest.mark.usefixtures("active_team")
def test_late_partial_refund_event_does_not_lower_the_total(standin, tenant_a) -> None:
    customer = BillingCustomer.objects.get(tenant=tenant_a)
    [charge] = standin_call(standin, "GET", f"/v1/charges?customer={customer.stripe_customer_id}")["data"]
    standin_call(standin, "POST", "/v1/refunds", {"charge": charge["id"], "amount": 300})
    early = event_for(standin, "charge.refunded", charge["id"])
    standin_call(standin, "POST", "/v1/refunds", {"charge": charge["id"], "amount": 200})
    late = event_for(standin, "charge.refunded", charge["id"])
    _processed(late)
    _processed(early)  # the older event, delivered last: the re-fetched charge has both refunds
    assert Invoice.objects.get(tenant=tenant_a).amount_refunded == 500


# --- invoice.finalized -----------------------------------------------------------------------------


def test_invoice_finalized_mirrors_the_open_invoice_with_its_hosted_page(
    standin, active_team, tenant_a, owner_a
) -> None:
    sub_id = active_team.stripe_subscription_id
    before = len(standin.events())
    # The renewal: Stripe finalizes the cycle invoice; its automatic payment does not go through.
    standin_call(standin, "POST", "/_standin/advance", {"subscription": sub_id, "action": "fail_payment"})
    finalized = event_for(standin, "invoice.finalized", sub_id, after=before)
    remote = standin_call(standin, "GET", f"/v1/invoices/{finalized['data']['object']['id']}")
    assert remote["status"] == "open"

    assert _processed(finalized).tenant_id == tenant_a.pk
    invoice = Invoice.objects.get(stripe_invoice_id=remote["id"])
    assert invoice.tenant_id == tenant_a.pk
    assert invoice.stripe_subscription_id == sub_id
    assert invoice.status == "open"
    assert invoice.number == remote["number"]
    assert invoice.number
    assert (invoice.amount_due, invoice.amount_remaining, invoice.amount_paid) == (2 * TEAM_PRICE, 2 * TEAM_PRICE, 0)
    assert invoice.hosted_invoice_url == remote["hosted_invoice_url"] == f"{standin.url}/invoice/{remote['id']}"
    assert invoice.invoice_pdf == remote["invoice_pdf"]
    assert invoice.period_start is not None
    assert invoice.period_end is not None
    # The organization sees it, with the page where it can be paid (a real page on the stand-in).
    listed = _invoices_api(tenant_a, owner_a)[remote["id"]]
    assert listed["status"] == "open"
    assert listed["hosted_invoice_url"] == remote["hosted_invoice_url"]
    with urllib.request.urlopen(listed["hosted_invoice_url"], timeout=10) as page:  # noqa: S310 - stand-in
        assert page.status == 200
        assert remote["number"].encode() in page.read()
    # invoice.finalized alone is not a payment failure: the tenant keeps its standing.
    assert Tenant.objects.get(pk=tenant_a.pk).status == TenantStatus.ACTIVE


# --- invoice.payment_action_required ---------------------------------------------------------------


def test_payment_action_required_flags_the_invoice_until_the_customer_confirms(
    standin, active_team, tenant_a, owner_a
) -> None:
    sub_id = active_team.stripe_subscription_id
    before = len(standin.events())
    standin_call(standin, "POST", "/_standin/advance", {"subscription": sub_id, "action": "require_action"})
    action = event_for(standin, "invoice.payment_action_required", sub_id, after=before)
    invoice_id = action["data"]["object"]["id"]

    assert _processed(action).tenant_id == tenant_a.pk
    invoice = Invoice.objects.get(stripe_invoice_id=invoice_id)
    assert invoice.status == "open"
    assert invoice.action_required_at is not None
    assert invoice.action_required_at == dt.datetime.fromtimestamp(action["created"], tz=dt.UTC)
    assert Subscription.objects.get(pk=active_team.pk).status == "past_due"
    tenant = Tenant.objects.get(pk=tenant_a.pk)
    assert tenant.status == TenantStatus.PAST_DUE  # dunning starts: the money was not collected
    assert entitlements_for_tenant(tenant=tenant).plan == "team"  # still within the grace period
    notices = _overview(tenant_a, owner_a)["notices"]
    assert [n["code"] for n in notices] == ["payment_action_required"]
    assert notices[0]["invoice"] == invoice_id
    assert notices[0]["url"] == invoice.hosted_invoice_url
    assert invoice.hosted_invoice_url.startswith(standin.url)

    # The customer confirms on the hosted invoice page ("Pay" posts this form).
    before = len(standin.events())
    assert standin_call(standin, "POST", f"/invoice/{invoice_id}/pay")["redirect"] == f"/invoice/{invoice_id}"
    _processed(event_for(standin, "invoice.paid", invoice_id, after=before))
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    assert invoice.action_required_at is None
    assert Tenant.objects.get(pk=tenant_a.pk).status == TenantStatus.ACTIVE
    assert Subscription.objects.get(pk=active_team.pk).status == "active"
    assert _overview(tenant_a, owner_a)["notices"] == []


def test_payment_action_required_delivered_after_payment_flags_nothing(standin, active_team, tenant_a, owner_a) -> None:
    sub_id = active_team.stripe_subscription_id
    before = len(standin.events())
    standin_call(standin, "POST", "/_standin/advance", {"subscription": sub_id, "action": "require_action"})
    action = event_for(standin, "invoice.payment_action_required", sub_id, after=before)
    standin_call(standin, "POST", "/_standin/advance", {"subscription": sub_id, "action": "pay"})
    # Out of order: the confirmation already happened in Stripe when the older event arrives.
    _processed(action)
    invoice = Invoice.objects.get(stripe_invoice_id=action["data"]["object"]["id"])
    assert invoice.status == "paid"
    assert invoice.action_required_at is None
    assert Tenant.objects.get(pk=tenant_a.pk).status == TenantStatus.ACTIVE
    assert _overview(tenant_a, owner_a)["notices"] == []


# --- customer.subscription.trial_will_end ----------------------------------------------------------


def test_trial_will_end_records_the_trial_end_and_a_notice(standin, tenant_a, owner_a) -> None:
    services.plans_sync()
    sub = subscribe(standin, customer_for(tenant_a), "team", 1, trial_period_days=14)
    assert sub["status"] == "trialing"
    standin_call(standin, "POST", "/_standin/advance", {"subscription": sub["id"], "action": "trial_will_end"})
    will_end = event_for(standin, "customer.subscription.trial_will_end", sub["id"])

    # The first event to arrive for this subscription: the mirror is created from the re-fetch.
    assert not Subscription.objects.filter(stripe_subscription_id=sub["id"]).exists()
    assert _processed(will_end).tenant_id == tenant_a.pk
    mirror = Subscription.objects.get(stripe_subscription_id=sub["id"])
    trial_end = dt.datetime.fromtimestamp(sub["trial_end"], tz=dt.UTC)
    assert (mirror.status, mirror.plan_code, mirror.trial_end) == ("trialing", "team", trial_end)
    assert mirror.trial_will_end_at == dt.datetime.fromtimestamp(will_end["created"], tz=dt.UTC)
    assert Tenant.objects.get(pk=tenant_a.pk).status == TenantStatus.TRIALING
    overview = _overview(tenant_a, owner_a)
    assert overview["plan"] == "team"
    assert overview["subscription"]["status"] == "trialing"
    assert overview["subscription"]["trial_end"] == trial_end.isoformat().replace("+00:00", "Z")
    [notice] = overview["notices"]
    assert notice["code"] == "trial_ending"
    assert notice["date"] == overview["subscription"]["trial_end"]
    assert trial_end.strftime("%Y-%m-%d") in notice["message"]

    # The trial converts (Stripe announces the end once more, then charges): the notice goes away,
    # and the late announcement, re-fetched as active, adds none.
    before = len(standin.events())
    standin_call(standin, "POST", "/_standin/advance", {"subscription": sub["id"], "action": "trial_end"})
    _processed(event_for(standin, "customer.subscription.updated", sub["id"], after=before))
    _processed(event_for(standin, "customer.subscription.trial_will_end", sub["id"], after=before))
    mirror.refresh_from_db()
    assert mirror.status == "active"
    assert Tenant.objects.get(pk=tenant_a.pk).status == TenantStatus.ACTIVE
    assert _overview(tenant_a, owner_a)["notices"] == []
