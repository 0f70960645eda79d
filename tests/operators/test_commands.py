"""Operator commands: `tenant list` as a table, progress bars on standard error (only on a terminal),
summaries on standard output, and lifecycle changes audited like the admin's."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tenants.utils import schema_context

from billing import services as billing_services
from billing.models import DriftReport, Subscription
from shared_apps.accounts.models import Role
from shared_apps.accounts.services import organization_provision
from tenant_apps.audit.models import AuditEvent
from tenants.models import Tenant, TenantStatus
from tenants.selectors import schema_exists
from tenants.services import tenant_close
from tests.billing.support import _stripe_settings, customer_for, standin  # noqa: F401  (fixtures)
from webhooks.models import EventStatus, WebhookEvent

pytestmark = pytest.mark.django_db

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), ANSI.sub("", err.getvalue())


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make rich treat standard error as a terminal (what an operator at a shell gets)."""
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")


# --- tenant list ---------------------------------------------------------------------------------


def test_tenant_list_prints_a_table_with_a_header(tenant_a: Tenant, tenant_b: Tenant, member_factory) -> None:
    member_factory(tenant_a, Role.MEMBER)
    customer = customer_for(tenant_a)
    Subscription.objects.create(
        tenant=tenant_a, customer=customer, stripe_subscription_id="sub_list", status="active", plan_code="team"
    )
    out, err = run("tenant", "list")
    lines = out.splitlines()
    assert lines[0].split() == ["SLUG", "NAME", "STATUS", "PLAN", "MEMBERS", "CREATED"]
    rows = {line.split()[0]: line.split() for line in lines[1:-1]}
    today = tenant_a.created_at.date().isoformat()
    assert rows["alpha"] == ["alpha", "Alpha", "trialing", "team", "2", today]
    assert rows["beta"] == ["beta", "Beta", "trialing", "free", "1", tenant_b.created_at.date().isoformat()]
    # Columns line up under the header.
    assert lines[1].index("trialing") == lines[0].index("STATUS")
    assert lines[-1] == f"{Tenant.objects.count()} organization(s): {Tenant.objects.count()} trialing"
    assert err == ""


def test_tenant_list_json_for_scripts(tenant_a: Tenant, tenant_b: Tenant) -> None:
    tenant_close(tenant=tenant_b)
    out, _ = run("tenant", "list", "--json")
    rows = {r["slug"]: r for r in json.loads(out)}
    assert rows["alpha"] == {
        "slug": "alpha",
        "name": "Alpha",
        "status": "trialing",
        "plan": "free",
        "members": 1,
        "created": tenant_a.created_at.date().isoformat(),
    }
    assert rows["beta"]["status"] == "closed"
    closed, _ = run("tenant", "list", "--json", "--status", "closed")
    assert [r["slug"] for r in json.loads(closed)] == ["beta"]


def test_tenant_list_keeps_a_name_with_brackets_as_it_is(tenant_a: Tenant) -> None:
    Tenant.objects.filter(pk=tenant_a.pk).update(name="[bold]Alpha[/bold]")
    out, _ = run("tenant", "list")
    assert "[bold]Alpha[/bold]" in out


# --- lifecycle, audited --------------------------------------------------------------------------


def test_cli_lifecycle_goes_through_the_audited_path(tenant_b: Tenant) -> None:
    out, _ = run("tenant", "suspend", "beta")
    assert out.strip() == "beta: suspended"
    out, _ = run("tenant", "suspend", "beta")
    assert out.strip() == "beta: suspended (unchanged)"
    run("tenant", "reactivate", "beta")
    with schema_context(tenant_b.schema_name):
        events = list(AuditEvent.objects.filter(target_type="organization").order_by("id"))
    assert [e.action for e in events] == ["organization.suspended", "organization.reactivated"]
    assert events[0].data["via"] == "cli"
    assert events[0].actor_id is None
    assert events[0].data["from"] == "trialing"
    assert events[0].data["to"] == "suspended"


def test_cli_refused_transition_is_an_error_and_changes_nothing(tenant_b: Tenant) -> None:
    run("tenant", "close", "beta")
    with pytest.raises(Exception, match="invalid_status_transition"):
        run("tenant", "suspend", "beta")
    tenant_b.refresh_from_db()
    assert tenant_b.status == TenantStatus.CLOSED
    with schema_context(tenant_b.schema_name):
        assert AuditEvent.objects.filter(action="organization.suspended").count() == 0


# --- export and purge: progress on a terminal only, summaries always -----------------------------


@pytest.mark.usefixtures("tenant_a")
def test_export_summary_and_no_progress_when_not_a_terminal(tmp_path: Any) -> None:
    target = tmp_path / "alpha.json"
    out, err = run("tenant", "export", "alpha", "-o", str(target))
    data = json.loads(target.read_text())
    tables = len(data["data"])
    assert out.strip() == f"wrote {target}: alpha: 1 member(s), {tables} table(s), 0 row(s)"
    assert err == ""


@pytest.mark.usefixtures("tenant_a")
def test_export_to_stdout_is_only_json() -> None:
    out, err = run("tenant", "export", "alpha")
    assert json.loads(out)["organization"]["slug"] == "alpha"
    assert err.strip().startswith("alpha: 1 member(s)")


@pytest.mark.usefixtures("tenant_a", "terminal")
def test_export_shows_a_progress_bar_on_a_terminal(tmp_path: Any) -> None:
    target = tmp_path / "alpha.json"
    out, err = run("tenant", "export", "alpha", "-o", str(target))
    tables = len(json.loads(target.read_text())["data"])
    assert "exporting alpha" in err
    assert f"{tables}/{tables}" in err
    assert "exporting" not in out  # the bar never reaches standard output
    _, quiet = run("tenant", "export", "alpha", "-o", str(target), "--no-progress")
    assert quiet == ""


@pytest.mark.usefixtures("terminal")
def test_purge_expired_shows_progress_and_a_summary() -> None:
    doomed = [
        organization_provision(slug=f"doomed{i}", name="Doomed", owner_email=f"o@doomed{i}.test") for i in range(2)
    ]
    long_ago = timezone.now() - dt.timedelta(days=400)
    for tenant in doomed:
        tenant_close(tenant=tenant)
    Tenant.objects.filter(pk__in=[t.pk for t in doomed]).update(closed_at=long_ago)
    out, err = run("tenant", "purge")
    assert out.strip() == "purged 2: doomed0, doomed1"
    assert "purging" in err
    assert "2/2" in err
    assert not any(schema_exists(schema_name=t.schema_name) for t in doomed)


# --- billing and webhook commands ----------------------------------------------------------------


@pytest.mark.usefixtures("terminal")
def test_sync_plans_progress_and_summary() -> None:
    out, err = run("sync_plans")
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == ["free", "team", "business"]
    assert re.fullmatch(r"3 plan\(s\) in sync in \d+\.\ds\.", lines[-1])
    assert "plans" in err
    assert "3/3" in err
    out, err = run("sync_plans", "--no-progress")
    assert err == ""
    assert out.splitlines()[-1].startswith("3 plan(s) in sync")


@pytest.mark.usefixtures("tenant_b", "terminal")
def test_reconcile_billing_progress_and_summary(tenant_a: Tenant) -> None:
    billing_services.plans_sync()
    customer_for(tenant_a)
    organizations = Tenant.objects.exclude(status=TenantStatus.CLOSED).count()
    out, err = run("reconcile_billing")
    report = DriftReport.objects.latest("started_at")
    assert re.fullmatch(
        rf"report {report.pk}: {organizations} customer\(s\), {report.drift_count} drift\(s\), "
        rf"{report.repaired_count} repaired, 0 error\(s\) in \d+\.\ds",
        out.splitlines()[-1],
    )
    assert "reconciling" in err
    assert f"{organizations}/{organizations}" in err


@pytest.mark.usefixtures("terminal")
def test_replay_webhooks_progress_and_summary_by_outcome() -> None:
    for i in range(3):
        WebhookEvent.objects.create(
            stripe_event_id=f"evt_replay_{i}", type="invoice.paid", body="{}", payload={}, status=EventStatus.FAILED
        )
    out, err = run("replay_webhooks", "--failed", "--enqueue")
    assert out.splitlines() == [
        "evt_replay_0: enqueued",
        "evt_replay_1: enqueued",
        "evt_replay_2: enqueued",
        "3 event(s) replayed: 3 enqueued.",
    ]
    assert "replaying" in err
    assert "3/3" in err
    assert set(
        WebhookEvent.objects.filter(stripe_event_id__startswith="evt_replay_").values_list("status", flat=True)
    ) == {EventStatus.PENDING}
