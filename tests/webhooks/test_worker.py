"""Committed data, a real HTTP server and a real Celery worker: parallel duplicates, a broker outage
at ingest, and the full path from a signed Stripe webhook to changed entitlements."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from billing.models import Subscription
from billing.selectors import entitlements_for_tenant
from billing.services import plans_sync
from tenants.models import Tenant
from tests.billing.support import SECRET, customer_for, deliver, events_for, http_post, in_thread, subscribe, wait_for
from webhooks.models import EventStatus, WebhookEvent
from webhooks.services import webhook_event_process, webhook_events_sweep
from webhooks.signature import sign


@contextmanager
def broker_down():
    """Point the Celery app at a closed port: every enqueue fails like during a broker outage."""
    from config.celery import app

    old = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield
    finally:
        app.conf.broker_url = old
        app._pool = None
        app.amqp._producer_pool = None


@pytest.mark.django_db
def test_session_tenants_exist(tenant_a, tenant_b) -> None:
    # Runs first: sets the test database up through pytest-django's regular path (requesting
    # django_db_setup without the django_db mark fails to see the migrated public schema).
    assert tenant_a.slug == "alpha"
    assert tenant_b.slug == "beta"


@pytest.mark.usefixtures("live_db")
def test_same_event_five_times_in_parallel_applies_once(standin, live_django) -> None:
    plans_sync()
    beta = Tenant.objects.get(slug="beta")
    sub = subscribe(standin, customer_for(beta), "team", 1)
    created = next(e for e in events_for(standin, types=("customer.subscription.created",)))
    body = json.dumps(created).encode()
    headers = {"Content-Type": "application/json", "Stripe-Signature": sign(body=body, secret=SECRET)}
    url = f"{live_django.url}/webhooks/stripe/"
    with broker_down(), ThreadPoolExecutor(5) as pool:  # no worker races the threads below
        statuses = list(pool.map(lambda _: http_post(url, body, headers), range(5)))
    assert statuses == [200] * 5
    row = WebhookEvent.objects.get(stripe_event_id=created["id"])
    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(lambda _: in_thread(lambda: webhook_event_process(event_id=row.pk)), range(5)))
    assert results == [EventStatus.PROCESSED] * 5
    row.refresh_from_db()
    assert row.attempts == 1
    assert Subscription.objects.filter(stripe_subscription_id=sub["id"]).count() == 1


@pytest.mark.usefixtures("live_db", "celery_worker_process")
@pytest.mark.worker
def test_broker_down_at_ingest_then_sweeper(standin) -> None:
    plans_sync()
    beta = Tenant.objects.get(slug="beta")
    sub = subscribe(standin, customer_for(beta), "team", 1)
    created = next(e for e in events_for(standin, types=("customer.subscription.created",)))
    with broker_down():
        assert deliver(created).status_code == 200
    row = WebhookEvent.objects.get(stripe_event_id=created["id"])
    assert row.status == EventStatus.PENDING
    assert row.enqueued_at is None
    assert webhook_events_sweep(older_than_seconds=0) == 1
    wait_for(lambda: WebhookEvent.objects.get(pk=row.pk).status == EventStatus.PROCESSED)
    assert Subscription.objects.get(stripe_subscription_id=sub["id"]).tenant_id == beta.pk


@pytest.mark.usefixtures("live_db", "celery_worker_process")
@pytest.mark.worker
def test_signed_webhook_over_http_to_worker_changes_entitlements(standin, live_django) -> None:
    standin.configure_webhooks(f"{live_django.url}/webhooks/stripe/", SECRET)
    plans_sync()
    beta = Tenant.objects.get(slug="beta")
    assert entitlements_for_tenant(tenant=beta).plan == "free"
    sub = subscribe(standin, customer_for(beta), "business", 1)
    assert standin.flush_webhooks(20)
    wait_for(lambda: Subscription.objects.filter(stripe_subscription_id=sub["id"], status="active").exists())
    wait_for(lambda: entitlements_for_tenant(tenant=Tenant.objects.get(slug="beta")).plan == "business")
    assert entitlements_for_tenant(tenant=Tenant.objects.get(slug="beta")).seats is None
    stored = WebhookEvent.objects.filter(type="customer.subscription.created").get()
    wait_for(lambda: WebhookEvent.objects.get(pk=stored.pk).status == EventStatus.PROCESSED)
    assert standin.deliveries()
    assert all(d["status"] == "delivered" for d in standin.deliveries())
