"""Billing writes: mirror upserts from Stripe objects, tenant lifecycle driven by billing, outbound
operations (customer, checkout, portal, seats, catalog). Handlers for webhook events live in
billing/handlers.py and call into here."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import gateway
from billing.finance.services import subscription_revision_record
from billing.models import (
    LIVE_SUBSCRIPTION_STATUSES,
    BillingCustomer,
    Invoice,
    Plan,
    Subscription,
    SubscriptionStatus,
)
from billing.selectors import seat_count, subscription_current
from shared_apps.accounts.models import Membership, Role
from tenants.models import Tenant, TenantStatus
from tenants.services import tenant_close, tenant_set_status

logger = logging.getLogger(__name__)


def ts(value: Any) -> dt.datetime | None:
    """Stripe epoch seconds -> aware datetime (None stays None)."""
    if value in (None, "", 0):
        return None
    return dt.datetime.fromtimestamp(int(value), tz=dt.UTC)


def stripe_id(value: Any) -> str:
    """An id field that may be a string or an expanded object."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


# --- Plans ---------------------------------------------------------------------------------------


def plan_code_for_price(*, lookup_key: str, price_id: str) -> str:
    for code, plan in settings.BILLING_PLANS.items():
        if lookup_key and plan.get("lookup_key") == lookup_key:
            return code
    if price_id:
        found = Plan.objects.filter(stripe_price_id=price_id).values_list("code", flat=True).first()
        if found:
            return found
    return ""


def plans_sync(*, stdout: Any = None, on_plan: Callable[[Plan], None] | None = None) -> list[Plan]:
    """Push the catalog to Stripe (product per plan, monthly price with the plan's lookup key) and
    pull the price ids back. Idempotent: existing products and prices are reused. `on_plan(plan)` is
    called after each plan (progress)."""
    result = []
    plans: dict[str, dict[str, Any]] = settings.BILLING_PLANS
    for code, spec in plans.items():
        product_id = f"tenantry_{code}"
        try:
            gateway.product_retrieve(product_id=product_id)
        except gateway.NotFoundError:
            gateway.product_create(
                product_id=product_id,
                name=f"Tenantry {spec['name']}",
                metadata={"plan_code": code},
                key=idempotency("catalog", "product_create", product_id),
            )
        prices = gateway.price_list_by_lookup_keys(lookup_keys=[spec["lookup_key"]])
        price = next((p for p in prices if p.get("unit_amount") == spec["unit_amount"]), None)
        if price is None:
            price = gateway.price_create(
                product_id=product_id,
                lookup_key=spec["lookup_key"],
                unit_amount=spec["unit_amount"],
                currency=spec["currency"],
                interval=spec.get("interval", "month"),
                key=idempotency("catalog", "price_create", f"{spec['lookup_key']}:{spec['unit_amount']}"),
            )
        plan, _ = Plan.objects.update_or_create(
            code=code,
            defaults={
                "lookup_key": spec["lookup_key"],
                "stripe_product_id": product_id,
                "stripe_price_id": price["id"],
                "synced_at": timezone.now(),
            },
        )
        if stdout is not None:
            stdout.write(f"{code}: product {product_id} price {price['id']} ({spec['lookup_key']})\n")
        result.append(plan)
        if on_plan is not None:
            on_plan(plan)
    return result


def idempotency(tenant_id: int | str, operation: str, business_id: str) -> str:
    return gateway.idempotency_key(tenant_id=tenant_id, operation=operation, business_id=business_id)


def _price_id_for_plan(code: str) -> str:
    plan = Plan.objects.filter(code=code).exclude(stripe_price_id="").first()
    if plan is not None:
        return plan.stripe_price_id
    lookup_key = str(settings.BILLING_PLANS[code]["lookup_key"])
    prices = gateway.price_list_by_lookup_keys(lookup_keys=[lookup_key])
    if not prices:
        raise ValidationError("This plan is not available yet.", code="plan_unavailable")
    return str(prices[0]["id"])


# --- Customers -----------------------------------------------------------------------------------


def _owner_email(tenant: Tenant) -> str:
    m = Membership.objects.filter(tenant=tenant, role=Role.OWNER).select_related("user").order_by("pk").first()
    return m.user.email if m else ""


def billing_customer_ensure(*, tenant: Tenant) -> BillingCustomer:
    """The tenant's Stripe customer, created once (the idempotency key makes a retry return the same one)."""
    existing = BillingCustomer.objects.filter(tenant=tenant).first()
    if existing is not None:
        return existing
    data = gateway.customer_create(
        name=tenant.name,
        email=_owner_email(tenant),
        metadata={"tenant_id": str(tenant.pk), "tenant_slug": tenant.slug},
        key=idempotency(tenant.pk, "customer_create", str(tenant.pk)),
    )
    try:
        with transaction.atomic():
            return BillingCustomer.objects.create(
                tenant=tenant,
                stripe_customer_id=data["id"],
                email=data.get("email") or "",
                name=data.get("name") or "",
            )
    except IntegrityError:
        return BillingCustomer.objects.get(tenant=tenant)


def customer_lock(*, stripe_customer_id: str) -> BillingCustomer | None:
    """Lock the customer row: serializes every billing change of one tenant (call inside a transaction)."""
    if not stripe_customer_id:
        return None
    return (
        BillingCustomer.objects.select_for_update()
        .select_related("tenant")
        .filter(stripe_customer_id=stripe_customer_id)
        .first()
    )


def customer_refresh(*, customer: BillingCustomer) -> BillingCustomer:
    data = gateway.customer_retrieve(customer_id=customer.stripe_customer_id)
    customer.email = data.get("email") or ""
    customer.name = data.get("name") or ""
    customer.delinquent = bool(data.get("delinquent"))
    customer.save(update_fields=["email", "name", "delinquent", "updated_at"])
    return customer


# --- Subscriptions -------------------------------------------------------------------------------


def _subscription_fields(data: dict[str, Any]) -> dict[str, Any]:
    items = ((data.get("items") or {}).get("data")) or []
    item = items[0] if items else {}
    price = item.get("price") or {}
    if isinstance(price, str):
        price = {"id": price}
    lookup_key = price.get("lookup_key") or ""
    return {
        "status": data.get("status") or "",
        "stripe_item_id": item.get("id") or "",
        "plan_code": plan_code_for_price(lookup_key=lookup_key, price_id=price.get("id") or ""),
        "price_lookup_key": lookup_key,
        "stripe_price_id": price.get("id") or "",
        "quantity": int(item.get("quantity") or data.get("quantity") or 1),
        "current_period_start": ts(item.get("current_period_start") or data.get("current_period_start")),
        "current_period_end": ts(item.get("current_period_end") or data.get("current_period_end")),
        "cancel_at_period_end": bool(data.get("cancel_at_period_end")),
        "canceled_at": ts(data.get("canceled_at")),
        "trial_end": ts(data.get("trial_end")),
        "unit_amount": int(price.get("unit_amount") or 0),
        "currency": price.get("currency") or data.get("currency") or "",
    }


def subscription_apply(
    *, customer: BillingCustomer, data: dict[str, Any], marker: dt.datetime | None = None
) -> Subscription:
    """Upsert the mirror from a (fresh) Stripe subscription. A canceled subscription is never revived."""
    fields = _subscription_fields(data)
    sub = Subscription.objects.select_for_update().filter(stripe_subscription_id=data["id"]).first()
    if sub is not None and sub.tenant_id != customer.tenant_id:
        raise ValueError(f"subscription {data['id']} belongs to another tenant")
    if (
        sub is not None
        and sub.status == SubscriptionStatus.CANCELED
        and fields["status"] != SubscriptionStatus.CANCELED
    ):
        logger.warning("ignoring %s for canceled subscription %s", fields["status"], sub.stripe_subscription_id)
        return sub
    marker = marker or timezone.now()
    if sub is None:
        sub = Subscription(tenant_id=customer.tenant_id, customer=customer, stripe_subscription_id=data["id"], **fields)
        sub.stripe_updated = marker
        sub.save()
    elif _changed(sub, fields) or (sub.stripe_updated is None or marker > sub.stripe_updated):
        for name, value in fields.items():
            setattr(sub, name, value)
        sub.stripe_updated = max(filter(None, [sub.stripe_updated, marker]))
        sub.save()
    subscription_revision_record(subscription=sub, data=data, at=marker)  # revenue history (finance)
    return sub


def _changed(row: Any, fields: dict[str, Any]) -> bool:
    """Whether applying `fields` would change the mirror row (an unchanged row is not rewritten)."""
    return any(getattr(row, name) != value for name, value in fields.items())


def subscription_sync(
    *, customer: BillingCustomer, subscription_id: str, marker: dt.datetime | None = None
) -> Subscription | None:
    """Re-fetch the subscription from Stripe and mirror it, so any event order ends in Stripe's state."""
    try:
        data = gateway.subscription_retrieve(subscription_id=subscription_id)
    except gateway.NotFoundError:
        sub = Subscription.objects.filter(stripe_subscription_id=subscription_id, tenant=customer.tenant).first()
        if sub is not None and sub.status != SubscriptionStatus.CANCELED:
            sub.status = SubscriptionStatus.CANCELED
            sub.canceled_at = sub.canceled_at or timezone.now()
            sub.save(update_fields=["status", "canceled_at", "updated_at"])
            subscription_revision_record(subscription=sub, at=marker)
        return sub
    return subscription_mirror(customer=customer, data=data, marker=marker)


def subscription_mirror(
    *, customer: BillingCustomer, data: dict[str, Any], marker: dt.datetime | None = None
) -> Subscription:
    """Mirror a subscription object fresh from Stripe and let the tenant follow it."""
    if stripe_id(data.get("customer")) != customer.stripe_customer_id:
        raise ValueError(f"subscription {data.get('id')} does not belong to {customer.stripe_customer_id}")
    from billing.selectors import plan_code_for_tenant
    from billing.signals import plan_changed

    old_plan = plan_code_for_tenant(tenant=customer.tenant)
    sub = subscription_apply(customer=customer, data=data, marker=marker)
    tenant_follow_subscription(tenant=customer.tenant, subscription=sub)
    new_plan = plan_code_for_tenant(tenant=customer.tenant)
    if new_plan != old_plan:  # in this transaction: subscribers write their side effects with it
        plan_changed.send(sender=Subscription, tenant=customer.tenant, old_plan=old_plan, new_plan=new_plan)
    return sub


def subscription_note_trial_ending(*, subscription: Subscription, at: dt.datetime | None) -> Subscription:
    """Stripe announced the end of a trial (customer.subscription.trial_will_end): record it while the
    subscription is still trialing, so the billing overview can ask for payment details in time."""
    if subscription.status == SubscriptionStatus.TRIALING and subscription.trial_will_end_at is None:
        subscription.trial_will_end_at = at or timezone.now()
        subscription.save(update_fields=["trial_will_end_at", "updated_at"])
    return subscription


def _tenant_set_status(tenant: Tenant, status: str) -> Tenant:
    """tenant_set_status (which locks and re-reads the row), keeping the caller's instance current."""
    updated = tenant_set_status(tenant=tenant, status=status)
    tenant.status, tenant.status_changed_at, tenant.closed_at = (
        updated.status,
        updated.status_changed_at,
        updated.closed_at,
    )
    return tenant


def tenant_follow_subscription(*, tenant: Tenant, subscription: Subscription) -> None:
    """Tenant lifecycle from the subscription: an active one makes a trialing tenant active; when the
    last subscription is canceled the tenant is closed (data kept until the retention purge).

    `tenant` is the one loaded with the locked customer row in this transaction: the decision reads it,
    and every change goes through tenant_set_status / tenant_close, which lock and re-read the row."""
    if subscription.status == SubscriptionStatus.ACTIVE and tenant.status == TenantStatus.TRIALING:
        _tenant_set_status(tenant, TenantStatus.ACTIVE)
    elif subscription.status == SubscriptionStatus.CANCELED and tenant.status != TenantStatus.CLOSED:
        others = Subscription.objects.filter(
            tenant=tenant, status__in=[*LIVE_SUBSCRIPTION_STATUSES, SubscriptionStatus.INCOMPLETE]
        ).exclude(pk=subscription.pk)
        if not others.exists():
            closed = tenant_close(tenant=tenant)
            tenant.status, tenant.closed_at = closed.status, closed.closed_at


# --- Invoices ------------------------------------------------------------------------------------


def invoice_subscription_id(data: dict[str, Any]) -> str:
    parent = data.get("parent") or {}
    details = parent.get("subscription_details") or {}
    return stripe_id(details.get("subscription") or data.get("subscription"))


def invoice_apply(*, customer: BillingCustomer, data: dict[str, Any]) -> Invoice:
    if stripe_id(data.get("customer")) != customer.stripe_customer_id:
        raise ValueError(f"invoice {data.get('id')} does not belong to {customer.stripe_customer_id}")
    fields = {
        "stripe_subscription_id": invoice_subscription_id(data),
        "number": data.get("number") or "",
        "status": data.get("status") or "",
        "currency": data.get("currency") or "",
        "amount_due": int(data.get("amount_due") or 0),
        "amount_paid": int(data.get("amount_paid") or 0),
        "amount_remaining": int(data.get("amount_remaining") or 0),
        "total": int(data.get("total") or 0),
        "period_start": ts(data.get("period_start")),
        "period_end": ts(data.get("period_end")),
        "hosted_invoice_url": data.get("hosted_invoice_url") or "",
        "invoice_pdf": data.get("invoice_pdf") or "",
        "attempt_count": int(data.get("attempt_count") or 0),
        "stripe_created": ts(data.get("created")),
    }
    if fields["status"] != "open":
        fields["action_required_at"] = None  # paid, voided or uncollectible: nothing left to confirm
    invoice, created = Invoice.objects.get_or_create(
        stripe_invoice_id=data["id"], defaults={"tenant_id": customer.tenant_id, "customer": customer, **fields}
    )
    if invoice.tenant_id != customer.tenant_id:
        raise ValueError(f"invoice {data['id']} belongs to another tenant")
    if not created and _changed(invoice, fields):
        for name, value in fields.items():
            setattr(invoice, name, value)
        invoice.save()
    return invoice


def invoice_sync(
    *, customer: BillingCustomer, invoice_id: str, with_subscription: bool = False, marker: dt.datetime | None = None
) -> Invoice:
    """Re-fetch the invoice and mirror it; `with_subscription` also mirrors its subscription, fetched in
    the same request (expanded)."""
    data = gateway.invoice_retrieve(invoice_id=invoice_id, with_subscription=with_subscription)
    invoice = invoice_apply(customer=customer, data=data)
    if with_subscription:
        parent = (data.get("parent") or {}).get("subscription_details") or {}
        expanded = parent.get("subscription")
        if isinstance(expanded, dict):
            subscription_mirror(customer=customer, data=expanded, marker=marker)
        elif invoice.stripe_subscription_id:  # not expanded (e.g. deleted): look it up on its own
            subscription_sync(customer=customer, subscription_id=invoice.stripe_subscription_id, marker=marker)
    return invoice


def invoice_flag_action_required(*, invoice: Invoice, at: dt.datetime | None) -> Invoice:
    """The open invoice's payment waits for the customer to authenticate it (3-D Secure / SCA)."""
    if invoice.status == "open" and invoice.action_required_at is None:
        invoice.action_required_at = at or timezone.now()
        invoice.save(update_fields=["action_required_at", "updated_at"])
    return invoice


def _payment_ref(payment: dict[str, Any], key: str) -> str:
    return stripe_id((payment.get("payment") or {}).get(key))


def invoice_id_for_charge(*, customer: BillingCustomer, charge: dict[str, Any]) -> str:
    """The invoice a charge paid. Since API 2025-03-31 a charge no longer names its invoice: the link is
    the invoice payment (by payment intent, or for a charge without one by the charge id)."""
    payment_intent = stripe_id(charge.get("payment_intent"))
    if payment_intent:
        for payment in gateway.invoice_payment_list(payment_intent_id=payment_intent):
            if _payment_ref(payment, "payment_intent") == payment_intent:
                return stripe_id(payment.get("invoice"))
        return ""
    created = int(charge.get("created") or 0) or None
    for data in gateway.invoice_iter_with_payments(customer_id=customer.stripe_customer_id, created_lte=created):
        for payment in (data.get("payments") or {}).get("data") or []:
            if _payment_ref(payment, "charge") == charge["id"]:
                return str(data["id"])
    return ""


def invoice_refunds_sync(*, customer: BillingCustomer, charge: dict[str, Any]) -> Invoice | None:
    """Mirror the refunded total of the invoice `charge` (fresh from Stripe) paid: the sum of what was
    refunded on each of the invoice's successful payments. None when the charge paid no invoice."""
    if stripe_id(charge.get("customer")) != customer.stripe_customer_id:
        raise ValueError(f"charge {charge.get('id')} does not belong to {customer.stripe_customer_id}")
    invoice_id = invoice_id_for_charge(customer=customer, charge=charge)
    if not invoice_id:
        return None
    data = gateway.invoice_retrieve(invoice_id=invoice_id, with_payments=True)
    invoice = invoice_apply(customer=customer, data=data)
    refunded = 0
    counted = False
    for payment in (data.get("payments") or {}).get("data") or []:
        if payment.get("status") != "paid":
            continue
        charge_id = _payment_ref(payment, "charge")
        intent_id = _payment_ref(payment, "payment_intent")
        if charge_id == charge["id"] or (intent_id and intent_id == stripe_id(charge.get("payment_intent"))):
            refunded += int(charge.get("amount_refunded") or 0)
            counted = True
        elif charge_id:
            refunded += int(gateway.charge_retrieve(charge_id=charge_id).get("amount_refunded") or 0)
    if not counted:  # the payment list did not show this charge: count it anyway
        refunded += int(charge.get("amount_refunded") or 0)
    if invoice.amount_refunded != refunded:
        invoice.amount_refunded = refunded
        invoice.save(update_fields=["amount_refunded", "updated_at"])
    return invoice


# --- Dunning -------------------------------------------------------------------------------------


def tenant_mark_past_due(*, tenant: Tenant) -> Tenant:
    """Payment failed: full access for BILLING_GRACE_DAYS (counted from status_changed_at). `tenant` is
    current in this transaction (loaded with the locked customer); a change locks and re-reads it."""
    if tenant.status in (TenantStatus.TRIALING, TenantStatus.ACTIVE):
        return _tenant_set_status(tenant, TenantStatus.PAST_DUE)
    return tenant


def tenant_mark_paid(*, tenant: Tenant) -> Tenant:
    if tenant.status in (TenantStatus.PAST_DUE, TenantStatus.SUSPENDED):
        return _tenant_set_status(tenant, TenantStatus.ACTIVE)
    if tenant.status == TenantStatus.TRIALING and subscription_current(tenant_id=tenant.pk) is not None:
        return _tenant_set_status(tenant, TenantStatus.ACTIVE)
    return tenant


def dunning_suspend_overdue(*, now: dt.datetime | None = None) -> list[str]:
    """past_due longer than the grace period -> suspended (read-only)."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.BILLING_GRACE_DAYS)
    suspended = []
    for tenant in Tenant.objects.filter(status=TenantStatus.PAST_DUE, status_changed_at__lte=cutoff):
        tenant_set_status(tenant=tenant, status=TenantStatus.SUSPENDED)
        suspended.append(tenant.slug)
    return suspended


# --- Seats ---------------------------------------------------------------------------------------


def seats_sync(*, tenant_id: int, change_id: str) -> int | None:
    """Set the live subscription's quantity to the member count: at most one Stripe write per change,
    keyed by (tenant, subscription, change, quantity) so a retried task does not write twice."""
    sub = subscription_current(tenant_id=tenant_id)
    if sub is None or not sub.stripe_item_id:
        return None
    quantity = seat_count(tenant_id=tenant_id)
    if sub.quantity == quantity:
        return quantity
    data = gateway.subscription_item_set_quantity(
        item_id=sub.stripe_item_id,
        quantity=quantity,
        key=idempotency(tenant_id, "seats", f"{sub.stripe_subscription_id}:{change_id}:{quantity}"),
    )
    Subscription.objects.filter(pk=sub.pk).update(quantity=int(data.get("quantity") or quantity))
    return quantity


# --- Checkout and portal -------------------------------------------------------------------------


def _return_url(host: str) -> str:
    return settings.BILLING_RETURN_URL.format(host=host)


def checkout_start(*, tenant: Tenant, plan_code: str, host: str) -> str:
    """A Stripe Checkout URL for `plan_code`; double clicks within 10 minutes get the same session."""
    if plan_code not in settings.BILLING_PLANS:
        raise ValidationError("Unknown plan.", code="plan_invalid", params={"field": "plan"})
    if subscription_current(tenant_id=tenant.pk) is not None:
        raise ValidationError(
            "This organization already has a subscription; change it from the billing portal.",
            code="already_subscribed",
        )
    price_id = _price_id_for_plan(plan_code)
    customer = billing_customer_ensure(tenant=tenant)
    quantity = seat_count(tenant_id=tenant.pk)
    window = int(time.time() // 600)
    url = _return_url(host)
    session = gateway.checkout_session_create(
        customer_id=customer.stripe_customer_id,
        price_id=price_id,
        quantity=quantity,
        success_url=f"{url}?checkout=success",
        cancel_url=f"{url}?checkout=cancel",
        client_reference_id=str(tenant.pk),
        metadata={"tenant_id": str(tenant.pk), "plan": plan_code},
        key=idempotency(tenant.pk, "checkout", f"{plan_code}:{quantity}:{window}"),
    )
    return str(session["url"])


def portal_start(*, tenant: Tenant, host: str) -> str:
    customer = billing_customer_ensure(tenant=tenant)
    window = int(time.time() // 600)
    session = gateway.portal_session_create(
        customer_id=customer.stripe_customer_id,
        return_url=_return_url(host),
        key=idempotency(tenant.pk, "portal", str(window)),
    )
    return str(session["url"])
