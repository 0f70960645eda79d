"""The Django admin on the public host, walked page by page.

The walk enumerates `admin.site._registry`, so a model registered later is covered without touching
this file (and the walk fails until the fixture below holds a row of it, on purpose).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import models
from django.test import Client
from django.urls import reverse as _reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_context

from billing.models import BillingCustomer, DriftReport, Invoice, Plan, Subscription
from shared_apps.accounts.models import Membership, Role, User
from tenant_apps.audit.models import AuditEvent
from tenants.models import Domain, SpareSchema, Tenant, TenantMigrationResult, TenantMigrationRun, TenantStatus
from tests.factories import TEST_PASSWORD, UserFactory
from tests.support.clients import tenant_client
from webhooks.models import EventStatus, WebhookEvent

PUBLIC_HOST = "localhost"


def reverse(name: str, args: list[object] | None = None) -> str:
    """Admin URLs live in the public host's URL conf."""
    return _reverse(name, urlconf=settings.PUBLIC_SCHEMA_URLCONF, args=args)


def _public_client() -> Client:
    return Client(HTTP_HOST=PUBLIC_HOST)


@pytest.fixture
def superuser(db) -> User:  # noqa: ARG001 - requested for its side effect (usefixtures does not apply to fixtures)
    return User.objects.create_superuser(email="ops@platform.test", password=TEST_PASSWORD)


@pytest.fixture
def admin_client(superuser: User) -> Client:
    """Signed in through the admin's own login form on the public host (no force_login)."""
    client = _public_client()
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": superuser.email, "password": TEST_PASSWORD, "next": "/admin/"},
    )
    assert response.status_code == 302, response.content[:500]
    assert response["Location"] == "/admin/"
    return client


@pytest.fixture
def mirror(tenant_a: Tenant, owner_a: User) -> dict[str, models.Model]:
    """At least one row of every registered model, like a running platform has."""
    now = timezone.now()
    customer = BillingCustomer.objects.create(
        tenant=tenant_a, stripe_customer_id="cus_admin_walk", email="b@alpha.test"
    )
    subscription = Subscription.objects.create(
        tenant=tenant_a,
        customer=customer,
        stripe_subscription_id="sub_admin_walk",
        status="active",
        plan_code="team",
        quantity=3,
        unit_amount=1200,
        currency="usd",
        current_period_end=now + dt.timedelta(days=20),
    )
    invoice = Invoice.objects.create(
        tenant=tenant_a,
        customer=customer,
        stripe_invoice_id="in_admin_walk",
        number="ALPHA-0042",
        status="paid",
        currency="usd",
        total=3600,
        amount_paid=3600,
        stripe_created=now,
    )
    run = TenantMigrationRun.objects.create(target={"projects": "0001_initial"}, finished_at=now)
    TenantMigrationResult.objects.create(run=run, schema_name=tenant_a.schema_name, outcome="ok", seconds=0.1)
    event = WebhookEvent.objects.create(
        stripe_event_id="evt_admin_walk",
        type="invoice.paid",
        body="{}",
        payload={"id": "evt_admin_walk", "type": "invoice.paid"},
        status=EventStatus.FAILED,
        attempts=5,
        last_error="boom",
        tenant=tenant_a,
    )
    return {
        "customer": customer,
        "subscription": subscription,
        "invoice": invoice,
        "plan": Plan.objects.create(code="walk", lookup_key="walk_monthly", stripe_price_id="price_walk"),
        "drift": DriftReport.objects.create(
            customers_checked=1,
            drift_count=1,
            items=[
                {
                    "kind": "subscription",
                    "tenant": "alpha",
                    "stripe_id": "sub_admin_walk",
                    "field": "quantity",
                    "mirror": 2,
                    "stripe": 3,
                    "repaired": True,
                }
            ],
        ),
        "run": run,
        "event": event,
        "spare": SpareSchema.objects.first() or SpareSchema.objects.create(schema_name="t_0000000000000walk"),
        "group": Group.objects.create(name="finance"),
        "membership": Membership.objects.get(tenant=tenant_a, user=owner_a),
        "domain": Domain.objects.filter(tenant=tenant_a).first(),
        # django-axes' own admin: the sign-in failures an operator looks at when someone is locked out.
        "attempt": AccessAttempt.objects.create(
            username="owner@alpha.test",
            ip_address="192.0.2.1",
            user_agent="walk",
            http_accept="*/*",
            path_info="/login/",
            get_data="",
            post_data="",
            failures_since_start=1,
        ),
        "access_log": AccessLog.objects.create(
            username="owner@alpha.test",
            ip_address="192.0.2.1",
            user_agent="walk",
            http_accept="*/*",
            path_info="/login/",
        ),
        # django-otp's admin: an operator removes a device its owner lost (then recovery codes or a reset).
        "totp": TOTPDevice.objects.create(user=owner_a, name="walk", confirmed=True),
        "failure_log": AccessFailureLog.objects.create(
            username="owner@alpha.test",
            ip_address="192.0.2.1",
            user_agent="walk",
            http_accept="*/*",
            path_info="/login/",
            locked_out=False,
        ),
    }


def _admin_urls(client: Client) -> Iterator[tuple[str, str]]:
    """(label, url) for every page the walk visits: each registered model's list, list + search,
    list + each filter choice, the add page where allowed, and a real object's change page."""
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        changelist = reverse("admin:{}_{}_changelist".format(*info))
        yield f"{model.__name__} list", changelist
        if model_admin.search_fields:
            yield f"{model.__name__} search", f"{changelist}?q=alpha"
        response = client.get(changelist)
        assert response.status_code == 200, f"{changelist}: {response.status_code}"
        cl = response.context["cl"]
        for spec in cl.filter_specs:
            for choice in spec.choices(cl):
                yield f"{model.__name__} filter {spec.title}={choice['display']}", changelist + choice["query_string"]
        if cl.date_hierarchy:
            yield (
                f"{model.__name__} date {cl.date_hierarchy}",
                f"{changelist}?{cl.date_hierarchy}__year={timezone.now().year}",
            )
        request = response.wsgi_request
        if model_admin.has_add_permission(request):
            yield f"{model.__name__} add", reverse("admin:{}_{}_add".format(*info))
        obj = model_admin.get_queryset(request).order_by("-pk").first()
        assert obj is not None, f"no {model.__name__} row: add one to the `mirror` fixture in {__file__}"
        yield f"{model.__name__} change", reverse("admin:{}_{}_change".format(*info), args=[obj.pk])


@pytest.mark.usefixtures("mirror")
def test_every_admin_page_answers_200_for_a_platform_superuser(admin_client: Client) -> None:
    index = admin_client.get("/admin/")
    assert index.status_code == 200
    visited = 0
    for label, url in _admin_urls(admin_client):
        response = admin_client.get(url)
        assert response.status_code == 200, f"{label}: GET {url} answered {response.status_code}"
        visited += 1
    registered = {m.__name__ for m in admin.site._registry}
    assert {"Tenant", "User", "Membership", "WebhookEvent", "Subscription", "Invoice", "DriftReport"} <= registered
    assert visited >= 4 * len(registered)


def test_index_lists_the_operator_pages(admin_client: Client) -> None:
    body = admin_client.get("/admin/").content.decode()
    for path in (
        "/admin/tenants/tenant/",
        "/admin/accounts/user/",
        "/admin/accounts/membership/",
        "/admin/webhooks/webhookevent/",
        "/admin/billing/invoice/",
        "/admin/billing/subscription/",
    ):
        assert f'href="{path}"' in body


@pytest.mark.parametrize("who", ["anonymous", "member"])
def test_the_same_pages_redirect_others_to_the_login_and_change_nothing(
    who: str, admin_client: Client, mirror, tenant_a: Tenant, owner_a: User
) -> None:
    urls = [url for _label, url in _admin_urls(admin_client)]
    client = _public_client()
    if who == "member":
        client.force_login(owner_a)  # an organization owner, but not platform staff
    for url in ["/admin/", *urls]:
        response = client.get(url)
        assert response.status_code == 302, f"{who}: GET {url} answered {response.status_code}"
        assert urlsplit(response["Location"]).path == "/admin/login/", url

    # Writes are refused as well: a rename, a lifecycle action, a replay.
    change = reverse("admin:tenants_tenant_change", args=[tenant_a.pk])
    assert client.post(change, {"name": "Hijacked"}).status_code == 302
    for action in ("suspend_selected", "close_selected"):
        response = client.post(
            reverse("admin:tenants_tenant_changelist"), {"action": action, "_selected_action": [tenant_a.pk]}
        )
        assert response.status_code == 302
    response = client.post(
        reverse("admin:webhooks_webhookevent_changelist"),
        {"action": "replay", "_selected_action": [mirror["event"].pk]},
    )
    assert response.status_code == 302
    tenant_a.refresh_from_db()
    assert (tenant_a.name, tenant_a.status) == ("Alpha", TenantStatus.TRIALING)
    event = WebhookEvent.objects.get(pk=mirror["event"].pk)
    assert (event.status, event.attempts, event.enqueued_at) == (EventStatus.FAILED, 5, None)


@pytest.mark.usefixtures("db")
def test_staff_without_permissions_gets_403_on_model_pages(tenant_a: Tenant) -> None:
    staff = UserFactory(is_staff=True)
    client = _public_client()
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200
    assert client.get(reverse("admin:tenants_tenant_changelist")).status_code == 403
    response = client.post(
        reverse("admin:tenants_tenant_changelist"), {"action": "suspend_selected", "_selected_action": [tenant_a.pk]}
    )
    assert response.status_code == 403
    tenant_a.refresh_from_db()
    assert tenant_a.status == TenantStatus.TRIALING


def test_there_is_no_admin_on_a_tenant_host(superuser: User, tenant_a: Tenant) -> None:
    client = tenant_client(tenant_a, superuser)
    for path in ("/admin/", "/admin/login/", "/admin/tenants/tenant/"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"Django administration" not in response.content


def _audit(tenant: Tenant) -> list[AuditEvent]:
    with schema_context(tenant.schema_name):
        return list(AuditEvent.objects.filter(target_type="organization").order_by("id"))


def test_suspend_reactivate_close_actions_change_the_status_and_are_audited(
    admin_client: Client, superuser: User, tenant_a: Tenant
) -> None:
    changelist = reverse("admin:tenants_tenant_changelist")
    steps = [
        ("suspend_selected", TenantStatus.SUSPENDED, "organization.suspended"),
        ("reactivate_selected", TenantStatus.ACTIVE, "organization.reactivated"),
        ("close_selected", TenantStatus.CLOSED, "organization.closed"),
    ]
    for action, status, audit_action in steps:
        response = admin_client.post(changelist, {"action": action, "_selected_action": [tenant_a.pk]}, follow=True)
        assert response.status_code == 200
        tenant_a.refresh_from_db()
        assert tenant_a.status == status
        last = _audit(tenant_a)[-1]
        assert last.action == audit_action
        assert last.actor_id == superuser.pk
        assert last.actor_email == superuser.email
        assert last.data["via"] == "admin"
    assert [e.action for e in _audit(tenant_a)] == [s[2] for s in steps]
    # The closed organization answers 410 on its host from then on.
    assert tenant_client(tenant_a).get("/api/v1/me/").status_code == 410


def test_a_refused_transition_changes_nothing_and_says_why(admin_client: Client, tenant_a: Tenant) -> None:
    changelist = reverse("admin:tenants_tenant_changelist")
    admin_client.post(changelist, {"action": "close_selected", "_selected_action": [tenant_a.pk]})
    before = len(_audit(tenant_a))
    response = admin_client.post(
        changelist, {"action": "suspend_selected", "_selected_action": [tenant_a.pk]}, follow=True
    )
    shown = [str(m) for m in response.context["messages"]]
    assert "suspend refused: alpha (A closed organization cannot become suspended.)" in shown
    tenant_a.refresh_from_db()
    assert tenant_a.status == TenantStatus.CLOSED
    assert len(_audit(tenant_a)) == before


def test_replay_action_requeues_the_selected_events(admin_client: Client, mirror) -> None:
    other = WebhookEvent.objects.create(
        stripe_event_id="evt_not_selected", type="invoice.paid", body="{}", payload={}, status=EventStatus.FAILED
    )
    changelist = reverse("admin:webhooks_webhookevent_changelist")
    failed = admin_client.get(changelist, {"status__exact": "failed", "type__exact": "invoice.paid"})
    assert {e.stripe_event_id for e in failed.context["cl"].result_list} == {"evt_admin_walk", "evt_not_selected"}
    response = admin_client.post(
        changelist, {"action": "replay", "_selected_action": [mirror["event"].pk]}, follow=True
    )
    assert "Replayed 1 event(s)" in response.content.decode()
    event = WebhookEvent.objects.get(pk=mirror["event"].pk)
    assert event.status == EventStatus.PENDING
    assert event.attempts == 0
    assert event.enqueued_at is not None  # set only once the broker accepted the task
    other.refresh_from_db()
    assert other.status == EventStatus.FAILED
    assert other.enqueued_at is None


def test_organization_page_shows_plan_seats_members_and_billing_mirror(
    admin_client: Client, mirror, tenant_a, member_factory
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("admin:tenants_tenant_change", args=[tenant_a.pk])
    with CaptureQueriesContext(connection) as queries:
        body = admin_client.get(url).content.decode()
    assert "team: 1 member(s) of" in body
    assert "3 billed (active)" in body
    assert "owner@alpha.test" in body
    assert "cus_admin_walk" in body
    assert "sub_admin_walk" in body
    assert "ALPHA-0042" in body
    assert "36.00 USD" in body
    # More members and invoices, same number of queries (13 when written).
    for i in range(5):
        member_factory(tenant_a, Role.MEMBER)
        Invoice.objects.create(tenant=tenant_a, customer=mirror["customer"], stripe_invoice_id=f"in_more_{i}")
    with CaptureQueriesContext(connection) as more:
        assert "6 member(s) of" in admin_client.get(url).content.decode()
    assert len(more) == len(queries) <= 15, [q["sql"] for q in more.captured_queries]

    listing = admin_client.get(reverse("admin:tenants_tenant_changelist")).content.decode()
    assert ">team<" in listing
    invoices = admin_client.get(reverse("admin:billing_invoice_changelist")).content.decode()
    assert f'href="{url}"' in invoices  # invoices link to the organization
    subscriptions = admin_client.get(reverse("admin:billing_subscription_changelist")).content.decode()
    assert f'href="{url}"' in subscriptions


@pytest.mark.usefixtures("mirror")
def test_organization_list_costs_the_same_queries_for_more_organizations(admin_client: Client) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("admin:tenants_tenant_changelist")
    admin_client.get(url)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    Tenant.objects.create(schema_name="t_00000000000000aa", slug="gamma", name="Gamma")
    Tenant.objects.create(schema_name="t_00000000000000bb", slug="delta", name="Delta")
    with CaptureQueriesContext(connection) as more:
        admin_client.get(url)
    assert len(more) == len(few)


def test_rename_from_the_admin_goes_through_the_service(admin_client: Client, tenant_a: Tenant) -> None:
    url = reverse("admin:tenants_tenant_change", args=[tenant_a.pk])
    page = admin_client.get(url)
    form = page.context["adminform"].form
    data = {"name": "  Alpha Renamed  "}
    for formset in page.context["inline_admin_formsets"]:
        fs = formset.formset
        data.update({f"{fs.prefix}-{k}": v for k, v in fs.management_form.initial.items()})
        for i, f in enumerate(fs.forms):
            for name, field in f.fields.items():
                value = f.initial.get(name, field.initial)
                if isinstance(value, models.Model):
                    value = value.pk
                if value is True:
                    value = "on"
                if value not in (None, False):
                    data[f"{fs.prefix}-{i}-{name}"] = value
    assert form.fields.keys() == {"name"}
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    tenant_a.refresh_from_db()
    assert tenant_a.name == "Alpha Renamed"  # stripped by tenant_rename


def test_membership_admin_keeps_the_last_owner(admin_client: Client, tenant_a: Tenant, owner_a: User) -> None:
    membership = Membership.objects.get(tenant=tenant_a, user=owner_a)
    url = reverse("admin:accounts_membership_change", args=[membership.pk])
    response = admin_client.post(url, {"role": Role.MEMBER}, follow=True)
    assert "at least one owner" in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == Role.OWNER
    assert admin_client.get(reverse("admin:accounts_membership_delete", args=[membership.pk])).status_code == 403
    changelist = reverse("admin:accounts_membership_changelist")
    response = admin_client.post(
        changelist, {"action": "remove_selected", "_selected_action": [membership.pk]}, follow=True
    )
    assert "Kept:" in response.content.decode()
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_membership_added_in_the_admin_goes_through_membership_add(admin_client: Client, tenant_a: Tenant) -> None:
    person: User = UserFactory()  # type: ignore[assignment]
    response = admin_client.post(
        reverse("admin:accounts_membership_add"), {"user": person.pk, "tenant": tenant_a.pk, "role": Role.ADMIN}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Membership.objects.get(user=person, tenant=tenant_a).role == Role.ADMIN


def test_a_superuser_created_in_the_admin_signs_in_with_email(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "New.Person@Example.TEST",
            "usable_password": "true",
            "password1": "a-long-passphrase-1",
            "password2": "a-long-passphrase-1",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(email="new.person@example.test")
    assert user.check_password("a-long-passphrase-1")


def _signs_in_to_the_admin(email: str, password: str) -> bool:
    client = _public_client()
    response = client.post("/admin/login/?next=/admin/", {"username": email, "password": password, "next": "/admin/"})
    return response.status_code == 302 and client.get("/admin/").status_code == 200


@pytest.mark.usefixtures("db")
def test_createsuperuser_with_the_stack_environment_signs_in(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.management import call_command

    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root@platform.test")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-passphrase-2")
    call_command("createsuperuser", "--noinput", stdout=io.StringIO())
    user = User.objects.get(email="root@platform.test")
    assert user.is_superuser
    assert user.is_staff
    assert _signs_in_to_the_admin("root@platform.test", "a-long-passphrase-2")


@pytest.mark.usefixtures("db")
def test_seed_demo_creates_the_platform_admin_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.management import call_command

    monkeypatch.setenv("ADMIN_EMAIL", "Ops@Platform.TEST")
    monkeypatch.setenv("ADMIN_PASSWORD", "a-long-passphrase-3")
    out = io.StringIO()
    call_command("seed_demo", "--port", "8150", stdout=out)
    assert "Admin: http://localhost:8150/admin/  sign in as ops@platform.test (password from ADMIN_PASSWORD)" in (
        out.getvalue()
    )
    assert _signs_in_to_the_admin("ops@platform.test", "a-long-passphrase-3")
    # Run again (every `make run` does): the same account, password kept when none is given.
    monkeypatch.delenv("ADMIN_PASSWORD")
    out = io.StringIO()
    call_command("seed_demo", "--port", "8150", stdout=out)
    assert "(existing password kept)" in out.getvalue()
    assert User.objects.filter(email="ops@platform.test").count() == 1
    assert _signs_in_to_the_admin("ops@platform.test", "a-long-passphrase-3")


@pytest.mark.usefixtures("db")
def test_seed_demo_without_admin_email_creates_no_superuser(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.management import call_command

    monkeypatch.delenv("ADMIN_EMAIL", raising=False)
    call_command("seed_demo", stdout=io.StringIO())
    assert not User.objects.filter(is_superuser=True).exists()
