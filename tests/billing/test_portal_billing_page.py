"""The portal's billing page (issue 12): waiting for the webhook after Checkout or a plan change,
no "Trialing" badge on the Free plan and a trial's end date, Stripe's invoice preview (the stand-in's
POST /v1/invoices/create_preview over HTTP) before a plan change, and button names matching their text."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from billing import services
from billing.models import Plan, Subscription
from shared_apps.accounts.models import Membership, Role, User
from tenants.models import Tenant
from tests.billing.support import customer_for, deliver_and_process, events_for, standin_call, subscribe
from tests.support.clients import portal_client

pytestmark = pytest.mark.django_db

FIXTURES = Path("/work/shared/stripe/fixtures3.json")


def _latest(standin: Any, type_: str, sub_id: str) -> dict:
    for event in reversed(events_for(standin, types=(type_,))):
        obj = event["data"]["object"]
        parent = (obj.get("parent") or {}).get("subscription_details") or {}
        if sub_id in (obj.get("id"), parent.get("subscription")):
            return event
    raise AssertionError(f"no {type_} for {sub_id}")


@pytest.fixture
def team(standin: Any, tenant_a: Tenant) -> Subscription:
    """tenant_a on Team (1 seat), mirrored through the real webhook processing."""
    services.plans_sync()
    sub = subscribe(standin, customer_for(tenant_a), "team", 1)
    deliver_and_process(_latest(standin, "customer.subscription.created", sub["id"]))
    return Subscription.objects.get(stripe_subscription_id=sub["id"])


@pytest.fixture
def billing_user(tenant_a: Tenant, member_factory: Any) -> User:
    return member_factory(tenant_a, Role.BILLING)


def _remote_sub(standin: Any, sub: Subscription) -> dict:
    return standin_call(standin, "GET", f"/v1/subscriptions/{sub.stripe_subscription_id}")


# --- The stand-in ---------------------------------------------------------------------------------------


def test_standin_serves_a_prorated_invoice_preview_shaped_like_stripes(standin: Any, team: Subscription) -> None:
    business = Plan.objects.get(code="business")
    remote = _remote_sub(standin, team)
    item = remote["items"]["data"][0]
    params = {
        "customer": team.customer.stripe_customer_id,
        "subscription": team.stripe_subscription_id,
        "subscription_details": {
            "items": [{"id": item["id"], "price": business.stripe_price_id, "quantity": 1}],
            "proration_behavior": "always_invoice",
        },
    }
    preview = standin_call(standin, "POST", "/v1/invoices/create_preview", params)
    start, end = item["current_period_start"], item["current_period_end"]
    remaining = (end - preview["created"]) / (end - start)
    expected = round(4900 * remaining) - round(1200 * remaining)
    assert preview["object"] == "invoice"
    assert preview["id"].startswith("upcoming_in_")
    assert abs(preview["amount_due"] - expected) <= 2
    assert preview["amount_due"] > 0
    assert preview["total"] == sum(line["amount"] for line in preview["lines"]["data"])
    assert [line["amount"] < 0 for line in preview["lines"]["data"]] == [True, False]  # credit, then charge
    # Stripe's own invoice fixture has the same top-level fields and line fields.
    fixture = json.loads(FIXTURES.read_text())["resources"]["invoice"]
    assert set(fixture) <= set(preview) | {"subscription"}
    assert set(fixture["lines"]["data"][0]) <= set(preview["lines"]["data"][0])
    # A preview changes nothing and is not stored.
    assert _remote_sub(standin, team)["items"]["data"][0]["price"]["id"] == item["price"]["id"]
    listed = standin_call(standin, "GET", "/v1/invoices", {"customer": team.customer.stripe_customer_id})
    assert preview["id"] not in {inv["id"] for inv in listed["data"]}


# --- Plan changes in the portal ---------------------------------------------------------------------------


def test_an_upgrade_shows_the_prorated_charge_then_the_page_waits_for_the_webhook(
    standin: Any, team: Subscription, tenant_a: Tenant, billing_user: User
) -> None:
    client = portal_client(tenant_a, billing_user)
    page = client.get("/billing/").content.decode()
    assert "Switch to Business" in page
    preview = client.get("/billing/change/?plan=business")
    assert preview.status_code == 200
    body = preview.content.decode()
    charge = re.search(r'data-testid="charge-now">([\d.]+) USD<', body).group(1)
    assert 0 < float(charge) <= 37.00
    assert f"Confirm and pay {charge} USD" in body
    assert _remote_sub(standin, team)["items"]["data"][0]["price"]["lookup_key"] == "tenantry_team_monthly"

    confirmed = client.post("/billing/change/", {"plan": "business"})
    assert confirmed.status_code == 302
    assert confirmed["Location"] == "/billing/?changed=business"
    remote = _remote_sub(standin, team)
    assert remote["items"]["data"][0]["price"]["lookup_key"] == "tenantry_business_monthly"
    invoice = standin_call(standin, "GET", f"/v1/invoices/{remote['latest_invoice']}")
    assert invoice["status"] == "paid"
    assert f"{invoice['amount_paid'] / 100:.2f}" == charge

    # Before the webhook: the page waits, the status endpoint still says Team.
    waiting = client.get("/billing/?changed=business").content.decode()
    assert 'data-wait-for="plan:business"' in waiting
    assert "Updating…" in waiting
    assert client.get("/billing/status/").json()["plan"] == "team"
    deliver_and_process(_latest(standin, "customer.subscription.updated", team.stripe_subscription_id))
    assert client.get("/billing/status/").json() == {
        "plan": "business",
        "plan_name": "Business",
        "subscribed": True,
        "paid": True,
        "cancel_at_period_end": False,
    }
    done = client.get("/billing/?changed=business").content.decode()
    assert "data-wait-for" not in done
    assert 'data-testid="billing-plan">Business<' in done


def test_a_downgrade_says_nothing_is_charged_and_credits_the_unused_time(
    standin: Any, team: Subscription, tenant_a: Tenant, owner_a: User
) -> None:
    client = portal_client(tenant_a, owner_a)
    client.post("/billing/change/", {"plan": "business"})
    deliver_and_process(_latest(standin, "customer.subscription.updated", team.stripe_subscription_id))
    body = client.get("/billing/change/?plan=team").content.decode()
    assert 'data-change-kind="downgrade"' in body
    assert "Nothing is charged now" in body
    credit = float(re.search(r'data-testid="credit">([\d.]+) USD<', body).group(1))
    assert 0 < credit <= 49.00
    assert client.post("/billing/change/", {"plan": "team"}).status_code == 302
    remote = _remote_sub(standin, team)
    assert remote["items"]["data"][0]["price"]["lookup_key"] == "tenantry_team_monthly"


def test_moving_to_free_cancels_at_the_end_of_the_period_and_says_when(
    standin: Any, team: Subscription, tenant_a: Tenant, owner_a: User
) -> None:
    client = portal_client(tenant_a, owner_a)
    page = client.get("/billing/").content.decode()
    # The button's accessible name is its text (no aria-label that says something else).
    assert re.search(r"<button type=\"submit\" class=\"secondary\">Cancel subscription</button>", page)
    for match in re.finditer(r"<button([^>]*)>([^<]*)</button>", page):
        label = re.search(r'aria-label="([^"]*)"', match.group(1))
        assert label is None or label.group(1) == match.group(2), match.group(0)
    preview = client.get("/billing/change/?plan=free").content.decode()
    end = team.current_period_end
    assert end is not None
    assert f'data-testid="effective">{end:%-d %b %Y}<' in preview
    assert 'data-testid="charge-now">0.00 USD<' in preview
    assert client.post("/billing/change/", {"plan": "free"})["Location"] == "/billing/?changed=free"
    assert _remote_sub(standin, team)["cancel_at_period_end"] is True
    assert 'data-wait-for="cancel"' in client.get("/billing/?changed=free").content.decode()
    deliver_and_process(_latest(standin, "customer.subscription.updated", team.stripe_subscription_id))
    after = client.get("/billing/").content.decode()
    assert f'data-testid="cancels-at">moves to Free on {end:%-d %b %Y}<' in after
    assert 'data-testid="billing-plan">Team<' in after  # kept until then


def test_plan_changes_are_for_billing_managers_only_and_a_refusal_changes_nothing(
    standin: Any, team: Subscription, tenant_a: Tenant, tenant_b: Tenant, member_factory: Any
) -> None:
    before = _remote_sub(standin, team)
    for user, expected in [
        (None, 302),
        (member_factory(tenant_b, Role.OWNER), 404),
        (member_factory(tenant_a, Role.MEMBER), 403),
        (member_factory(tenant_a, Role.ADMIN), 403),
    ]:
        client = portal_client(tenant_a, user)
        for method, path in [("get", "/billing/change/?plan=business"), ("get", "/billing/status/")]:
            assert getattr(client, method)(path).status_code == expected, (path, user)
        assert client.post("/billing/change/", {"plan": "business"}).status_code == expected
    after = _remote_sub(standin, team)
    assert after["items"] == before["items"]
    assert after["cancel_at_period_end"] == before["cancel_at_period_end"]


def test_unknown_or_same_plan_is_refused_without_a_500(
    standin: Any, team: Subscription, tenant_a: Tenant, owner_a: User
) -> None:
    client = portal_client(tenant_a, owner_a)
    before = _remote_sub(standin, team)
    cases = {
        "?plan=gold": "Unknown plan.",
        "?plan=team": "This is already your plan.",
        "": "Choose a plan.",
        "?plan=" + "x" * 100: "Choose a plan.",
    }
    for query, message in cases.items():
        response = client.get(f"/billing/change/{query}")
        assert response.status_code == 302
        assert response["Location"] == "/billing/"
        assert message in client.get("/billing/").content.decode()
        assert client.post("/billing/change/", {"plan": query.partition("=")[2]}).status_code == 302
    assert _remote_sub(standin, team)["items"] == before["items"]


# --- After Checkout, and the trial badge ------------------------------------------------------------------


def test_after_checkout_the_page_waits_for_the_webhook_instead_of_showing_free(standin: Any, tenant_b: Tenant) -> None:
    services.plans_sync()
    owner = Membership.objects.get(tenant=tenant_b, role=Role.OWNER).user
    client = portal_client(tenant_b, owner)
    url = client.post("/billing/checkout/", {"plan": "team"})["Location"]
    standin_call(standin, "POST", f"/checkout/{url.rstrip('/').split('/')[-1]}/complete", {"email": owner.email})
    waiting = client.get("/billing/?checkout=success").content.decode()
    assert 'data-wait-for="subscribed"' in waiting
    assert 'data-testid="billing-updating"' in waiting
    assert '<script src="/static/portal/billing.js" defer></script>' in waiting
    assert "<title>Billing · Tenantry</title>" in waiting  # the script is in the body, not in the title
    assert client.get("/billing/status/").json()["subscribed"] is False
    deliver_and_process(next(e for e in events_for(standin, types=("checkout.session.completed",))))
    assert client.get("/billing/status/").json()["subscribed"] is True
    done = client.get("/billing/?checkout=success").content.decode()
    assert "data-wait-for" not in done
    assert 'data-testid="billing-plan">Team<' in done


def test_a_subscription_whose_price_is_not_known_yet_keeps_the_page_waiting(tenant_b: Tenant) -> None:
    """Checkout's events arrive in any order: a live subscription can reach the mirror before its price
    maps to a plan. The page keeps waiting then instead of settling on the free plan."""
    owner = Membership.objects.get(tenant=tenant_b, role=Role.OWNER).user
    client = portal_client(tenant_b, owner)
    sub = Subscription.objects.create(
        tenant=tenant_b, customer=customer_for(tenant_b), stripe_subscription_id="sub_early", status="active"
    )
    status = client.get("/billing/status/").json()
    assert status["subscribed"] is True
    assert status["paid"] is False
    assert 'data-wait-for="subscribed"' in client.get("/billing/?checkout=success").content.decode()
    Subscription.objects.filter(pk=sub.pk).update(plan_code="team")
    assert client.get("/billing/status/").json()["paid"] is True
    done = client.get("/billing/?checkout=success").content.decode()
    assert "data-wait-for" not in done
    assert 'data-testid="billing-plan">Team<' in done


def test_the_free_plan_shows_no_trialing_badge_and_a_trial_shows_its_end(
    standin: Any, tenant_a: Tenant, owner_a: User, settings: Any
) -> None:
    settings.BILLING_DEFAULT_PLAN = "free"
    assert Tenant.objects.get(pk=tenant_a.pk).status == "trialing"
    client = portal_client(tenant_a, owner_a)
    free = client.get("/billing/").content.decode()
    assert 'data-testid="billing-plan">Free<' in free
    assert "Trialing" not in free
    assert 'data-testid="tenant-status"' not in free
    services.plans_sync()
    trial_end = int((timezone.now() + dt.timedelta(days=14)).timestamp())
    sub = subscribe(standin, customer_for(tenant_a), "team", 1, trial_end=trial_end)
    deliver_and_process(_latest(standin, "customer.subscription.created", sub["id"]))
    trial = client.get("/billing/").content.decode()
    end = dt.datetime.fromtimestamp(trial_end, tz=dt.UTC)
    assert f'data-testid="trial-end">{end:%-d %b %Y}<' in trial
