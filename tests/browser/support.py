"""Browser-test support: Debian's Chromium (installed with apt when missing), the live stack the
browser talks to, committed-data bookkeeping, and small page helpers.

Playwright's sync API keeps an asyncio loop marked as running in the test thread while it is started,
so Django refuses ORM calls there (SynchronousOnlyOperation). Every database access of these tests
therefore goes through `db()`, which runs it on a fresh thread with its own autocommit connection.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.billing.support import in_thread

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = ROOT / "docs" / "img"
CHROMIUM_PATHS = ("/usr/bin/chromium",)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP *.localhost 127.0.0.1",
]
APT_LOCK = Path(tempfile.gettempdir()) / "tenantry-chromium-apt.lock"
PASSWORD = "portal-browser-pass-42"  # what the people created by these tests sign in with
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}

T = TypeVar("T")


def db(fn: Callable[[], T]) -> T:
    """Run `fn` (ORM work) on a fresh thread with its own connection and return its result."""
    return in_thread(fn)


# --- Chromium ----------------------------------------------------------------------------------------


def _chromium() -> Path | None:
    for candidate in CHROMIUM_PATHS:
        if os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(["apt-get", *args], env=env, capture_output=True, text=True, timeout=900, check=False)


def chromium_ensure() -> Path:
    """Debian's Chromium; installed with apt the first time (one process at a time, under a file lock).
    Never a browser downloaded by Playwright."""
    found = _chromium()
    if found is not None:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.fail(
            "Browser tests need Debian's Chromium at /usr/bin/chromium. Install it as root with "
            "`apt-get update && apt-get install -y --no-install-recommends chromium`.",
            pytrace=False,
        )
    with open(APT_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a parallel run waits here, then finds it installed
        found = _chromium()
        if found is not None:
            return found
        install = ("install", "-y", "--no-install-recommends", "chromium")
        result = _apt(*install)
        if result.returncode != 0:  # no package lists yet, or stale ones
            update = _apt("update")
            result = _apt(*install) if update.returncode == 0 else update
        found = _chromium()
        if found is None:
            tail = (result.stdout + result.stderr)[-2000:]
            pytest.fail(
                f"Could not install Debian's chromium package with apt-get (exit {result.returncode}):\n{tail}",
                pytrace=False,
            )
        return found


# --- The live stack ---------------------------------------------------------------------------------


@dataclass
class Stack:
    """The WSGI app on a threaded HTTP server in this process (so it shares `mail.outbox`), the Stripe
    stand-in delivering signed webhooks to it, and the real Celery worker processing them."""

    port: int
    server_url: str  # http://127.0.0.1:<port>, what the stand-in posts webhooks to
    standin: Any

    @property
    def public(self) -> str:
        return f"http://localhost:{self.port}"

    def origin(self, slug: str) -> str:
        return f"http://{slug}.localhost:{self.port}"


@dataclass
class Baseline:
    """What existed before the browser tests, so that teardown removes exactly what they committed."""

    tenant_pk: int
    user_pk: int
    webhook_event_pk: int
    spare_schemas: int
    session_keys: set[str] = field(default_factory=set)
    plan_codes: set[str] = field(default_factory=set)


def baseline_take() -> Baseline:
    from django.contrib.sessions.models import Session
    from django.db.models import Max

    from billing.models import Plan
    from shared_apps.accounts.models import User
    from tenants.models import SpareSchema, Tenant
    from webhooks.models import WebhookEvent

    return Baseline(
        tenant_pk=Tenant.objects.aggregate(m=Max("pk"))["m"] or 0,
        user_pk=User.objects.aggregate(m=Max("pk"))["m"] or 0,
        webhook_event_pk=WebhookEvent.objects.aggregate(m=Max("pk"))["m"] or 0,
        spare_schemas=SpareSchema.objects.count(),
        session_keys=set(Session.objects.values_list("session_key", flat=True)),
        plan_codes=set(Plan.objects.values_list("code", flat=True)),
    )


def webhooks_settled(baseline: Baseline, timeout: float = 15.0) -> None:
    """Wait (bounded) until every webhook event stored during the tests left `pending`, so the worker
    does not act on organizations while they are being removed."""
    from webhooks.models import EventStatus, WebhookEvent

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = WebhookEvent.objects.filter(pk__gt=baseline.webhook_event_pk, status=EventStatus.PENDING)
        if not pending.exists():
            return
        time.sleep(0.2)


def committed_cleanup(baseline: Baseline) -> None:
    """Remove the organizations (rows and schemas), people, sessions, webhook events and plans these
    tests committed, and refill the spare-schema pool to the size it had."""
    from django.contrib.sessions.models import Session
    from django.db import connection

    from billing.models import BillingCustomer, Invoice, Plan, Subscription
    from shared_apps.accounts.models import Membership, User
    from tenants.models import Domain, Tenant
    from tenants.resolution import resolution_cache_invalidate
    from tenants.services import schema_drop, schema_pool_refill
    from webhooks.models import WebhookEvent

    WebhookEvent.objects.filter(pk__gt=baseline.webhook_event_pk).delete()
    for tenant in Tenant.objects.filter(pk__gt=baseline.tenant_pk):
        Invoice.objects.filter(tenant=tenant).delete()
        Subscription.objects.filter(tenant=tenant).delete()
        BillingCustomer.objects.filter(tenant=tenant).delete()
        Membership.objects.filter(tenant=tenant).delete()
        Domain.objects.filter(tenant=tenant).delete()
        schema_name = tenant.schema_name
        Tenant.objects.filter(pk=tenant.pk).delete()
        schema_drop(schema_name=schema_name)
    Membership.objects.filter(user__pk__gt=baseline.user_pk).delete()
    _account_rows_cleanup(baseline)
    # Not through the ORM's cascade: it would look for rows in tenant-only tables (tokens, guardian
    # permissions) in the public schema. Those rows went with the dropped schemas.
    with connection.cursor() as cursor:
        for through in (User.groups.through, User.user_permissions.through):
            cursor.execute(f'DELETE FROM "{through._meta.db_table}" WHERE user_id > %s', [baseline.user_pk])
        cursor.execute(f'DELETE FROM "{User._meta.db_table}" WHERE id > %s', [baseline.user_pk])
    Session.objects.exclude(session_key__in=baseline.session_keys).delete()
    Plan.objects.exclude(code__in=baseline.plan_codes).delete()
    schema_pool_refill(size=baseline.spare_schemas)
    resolution_cache_invalidate()


def _account_rows_cleanup(baseline: Baseline) -> None:
    """Sessions, authenticators, recovery codes and account events of what the tests committed."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from shared_apps.accounts.models import AccountEvent, RecoveryCode, UserSession

    UserSession.objects.exclude(session_key__in=baseline.session_keys).delete()
    for model in (UserSession, RecoveryCode, AccountEvent, TOTPDevice):
        model.objects.filter(user__pk__gt=baseline.user_pk).delete()


# --- Page helpers -------------------------------------------------------------------------------------


def sign_in(context: Any, origin: str, email: str, password: str = PASSWORD) -> Any:
    """Sign in through the tenant host's /login/ form; returns the page, on the dashboard."""
    page = context.new_page()
    page.goto(f"{origin}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{origin}/")
    return page


def screenshot(page: Any, name: str) -> Path | None:
    """Save a full-page PNG under docs/img/ when PORTAL_SCREENSHOTS=1 (`make screenshots`)."""
    if os.environ.get("PORTAL_SCREENSHOTS") != "1":
        return None
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path


def api_get(stack: Stack, slug: str, path: str, token: str) -> int:
    """GET an API path on a tenant host over HTTP with a bearer token; returns the status code."""
    req = urllib.request.Request(  # noqa: S310 - a local test server
        f"{stack.server_url}{path}",
        headers={"Host": f"{slug}.localhost:{stack.port}", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


ACCEPT_LINK = re.compile(r"https?://\S+/invitations/accept/\S+/")


def accept_link_in(outbox: list[Any], email: str) -> str:
    """The acceptance link of the newest invitation email sent to `email`."""
    for message in reversed(outbox):
        if email in message.to:
            match = ACCEPT_LINK.search(message.body)
            assert match, f"no acceptance link in the invitation email: {message.body!r}"
            return match.group(0)
    raise AssertionError(f"no email was sent to {email}; sent: {[m.to for m in outbox]}")


CONFIRM_LINK = re.compile(r"https?://\S+/signup/confirm/\S+/")


def confirm_link_in(outbox: list[Any], email: str) -> str:
    """The link of the newest signup confirmation email sent to `email`."""
    for message in reversed(outbox):
        if email in message.to and (match := CONFIRM_LINK.search(message.body)):
            return match.group(0)
    raise AssertionError(f"no signup confirmation was sent to {email}; sent: {[m.to for m in outbox]}")


def organization_seed(slug: str, name: str, people: list[tuple[str, str, str]], projects: list[str]) -> dict[str, Any]:
    """Provision `slug` (owner first in `people`: (email, full name, role)), add the others and the
    projects, all committed. Returns plain data (no ORM objects cross threads)."""
    from django_tenants.utils import schema_context

    from shared_apps.accounts.models import User
    from shared_apps.accounts.services import membership_add, organization_provision
    from tenant_apps.projects.services import project_create
    from tenants.base.actor import Actor

    (owner_email, owner_name, _), *others = people
    tenant = organization_provision(slug=slug, name=name, owner_email=owner_email, owner_password=PASSWORD)
    User.objects.filter(email=owner_email).update(full_name=owner_name)
    for email, full_name, role in others:
        user = User.objects.create_user(email=email, password=PASSWORD, full_name=full_name)
        membership_add(user=user, tenant_id=tenant.pk, role=role)
    owner = User.objects.get(email=owner_email)
    with schema_context(tenant.schema_name):
        for project in projects:
            project_create(actor=Actor(user=owner, ip="127.0.0.1"), tenant=tenant, name=project)
    return {"slug": slug, "name": name, "owner": owner_email}
