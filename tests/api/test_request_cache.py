"""The API's request cache (tenants.base.request_cache, D120): what every request reads (the token, the
membership, the entitlements) is served from the process after the first request, and every change
to it takes effect on the very next request, also when the change was made by another process."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from billing.models import BillingCustomer, Subscription
from shared_apps.accounts.models import Membership, Role
from shared_apps.accounts.services import membership_change_role
from tenant_apps.members.services import member_remove
from tenant_apps.tokens.models import ApiToken
from tenant_apps.tokens.services import api_token_create, api_token_revoke
from tenants.base.actor import Actor
from tenants.base.redis import redis_client
from tenants.base.request_cache import _key
from tests.support.api import Api, grant, make_project

pytestmark = pytest.mark.django_db

LIST = "/api/v1/projects/?page_size=5"


def _token(tenant, user) -> str:
    with schema_context(tenant.schema_name):
        return api_token_create(actor=Actor(user=user), user=user, name="cache")[1]


def _role(api: Api) -> str:
    r = api.get("/api/v1/me/")
    assert r.status_code == 200, r.content
    return r.json()["membership"]["role"]


def _warm(api: Api) -> None:
    for _ in range(2):
        assert api.get(LIST).status_code == 200


def test_a_warm_list_spends_queries_only_on_the_list_itself(tenant_a, owner_a, member_factory):
    member = member_factory(tenant_a, Role.MEMBER)
    grant(tenant_a, make_project(tenant_a, owner_a, "Shared"), member, "view")
    api = Api(tenant_a, token=_token(tenant_a, member))
    _warm(api)
    with CaptureQueriesContext(connection) as ctx:
        r = api.get(LIST)
    assert r.status_code == 200
    assert r.json()["count"] == 1
    sql = [q["sql"] for q in ctx.captured_queries]
    assert not any(t in s for s in sql for t in ("tokens_apitoken", "accounts_membership", "billing_subscription"))
    assert len(sql) == 2, sql  # COUNT and the page


def test_removing_a_member_takes_effect_on_the_next_request_with_the_cache_warm(tenant_a, owner_a, member_factory):
    member = member_factory(tenant_a, Role.MEMBER)
    api = Api(tenant_a, token=_token(tenant_a, member))
    _warm(api)
    membership = Membership.objects.get(user=member, tenant=tenant_a)
    with schema_context(tenant_a.schema_name):
        member_remove(actor=Actor(user=owner_a), actor_role=Role.OWNER, membership=membership)
    assert api.get(LIST).status_code in (401, 404)
    assert api.get("/api/v1/me/").status_code in (401, 404)


def test_a_revoked_token_is_refused_on_the_next_request_with_the_cache_warm(tenant_a, owner_a):
    raw = _token(tenant_a, owner_a)
    api = Api(tenant_a, token=raw)
    _warm(api)
    with schema_context(tenant_a.schema_name):
        token = ApiToken.objects.get(prefix=raw.split("_")[1])
        api_token_revoke(actor=Actor(user=owner_a), token=token)
    r = api.get(LIST)
    assert r.status_code == 401
    assert r.json()["error"]["code"] in ("authentication_failed", "not_authenticated")


def test_a_deactivated_user_is_refused_on_the_next_request_with_the_cache_warm(tenant_a, member_factory):
    member = member_factory(tenant_a, Role.MEMBER)
    api = Api(tenant_a, token=_token(tenant_a, member))
    _warm(api)
    member.is_active = False
    member.save(update_fields=["is_active"])
    assert api.get(LIST).status_code == 401


@pytest.mark.usefixtures("owner_a")
def test_a_role_change_shows_on_the_next_request_with_the_cache_warm(tenant_a, member_factory):
    member = member_factory(tenant_a, Role.ADMIN)
    api = Api(tenant_a, token=_token(tenant_a, member))
    _warm(api)
    assert _role(api) == Role.ADMIN
    membership_change_role(membership=Membership.objects.get(user=member, tenant=tenant_a), role=Role.MEMBER)
    assert _role(api) == Role.MEMBER


def test_a_subscription_change_shows_on_the_next_request_with_the_cache_warm(tenant_a, owner_a, settings):
    settings.BILLING_PLANS = {
        **settings.BILLING_PLANS,
        "small": {"name": "Small", "limits": {"seats": None, "projects": None, "api_rpm": 500}, "features": []},
    }
    api = Api(tenant_a, token=_token(tenant_a, owner_a))
    _warm(api)
    assert api.get(LIST)["RateLimit-Limit"] == str(100_000 // 2)
    customer, _ = BillingCustomer.objects.get_or_create(tenant=tenant_a, defaults={"stripe_customer_id": "cus_cache"})
    Subscription.objects.create(
        tenant=tenant_a, customer=customer, stripe_subscription_id="sub_cache_test", status="active", plan_code="small"
    )
    assert api.get(LIST)["RateLimit-Limit"] == str(500 // 2)


def test_a_change_announced_by_another_process_is_seen_on_the_next_request(tenant_a, member_factory):
    """Another process changes the row (no signal here) and writes a new generation to Valkey."""
    member = member_factory(tenant_a, Role.ADMIN)
    api = Api(tenant_a, token=_token(tenant_a, member))
    _warm(api)
    assert _role(api) == Role.ADMIN
    Membership.objects.filter(user=member, tenant=tenant_a).update(role=Role.MEMBER)
    # Without an announcement this process keeps serving what it cached (the cache is really used) …
    assert _role(api) == Role.ADMIN
    # … and the other process's new generation makes it re-read at once.
    redis_client().set(_key(tenant_a.pk), "another-process")
    assert _role(api) == Role.MEMBER


def test_with_valkey_down_requests_read_the_database_and_a_revocation_still_counts(tenant_a, member_factory):
    from tests.tenancy.test_degraded_cache import _closed_port, valkey_at

    member = member_factory(tenant_a, Role.MEMBER)
    raw_revoked, raw_kept = _token(tenant_a, member), _token(tenant_a, member)
    revoked_api, kept_api = Api(tenant_a, token=raw_revoked), Api(tenant_a, token=raw_kept)
    _warm(revoked_api)
    _warm(kept_api)
    with valkey_at(f"redis://127.0.0.1:{_closed_port()}/0"):
        with schema_context(tenant_a.schema_name):
            token = ApiToken.objects.get(prefix=raw_revoked.split("_")[1])
            api_token_revoke(actor=Actor(user=member), token=token)
        assert revoked_api.get(LIST).status_code == 401
        with CaptureQueriesContext(connection) as ctx:
            assert kept_api.get(LIST).status_code == 200
        # No cache without Valkey: the token and the membership come from PostgreSQL.
        sql = " ".join(q["sql"] for q in ctx.captured_queries)
        assert "tokens_apitoken" in sql
        assert "accounts_membership" in sql
    # Valkey is back: the revocation that could not be announced is announced now.
    assert revoked_api.get(LIST).status_code == 401
    assert kept_api.get(LIST).status_code == 200
