"""Host resolution: zero queries warm, unknown hosts, lifecycle gates, cache invalidation."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenants.models import Domain, TenantStatus
from tenants.resolution import resolution_cache_invalidate
from tests.support.clients import tenant_client

pytestmark = pytest.mark.django_db


def _resolution_queries(queries: list[dict]) -> list[str]:
    return [q["sql"] for q in queries if "tenants_domain" in q["sql"] or "tenants_tenant" in q["sql"]]


def test_warm_request_spends_zero_queries_on_resolution(tenant_a):
    client = tenant_client(tenant_a)
    assert client.get("/login/").status_code == 200  # warms the cache
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/login/")
    assert response.status_code == 200
    assert b"Sign in to Alpha" in response.content
    assert _resolution_queries(ctx.captured_queries) == []
    # The search path is set at most once per request, never before every query.
    assert sum("search_path" in q["sql"] for q in ctx.captured_queries) <= 1


def test_cold_request_resolves_with_one_query(tenant_a):
    resolution_cache_invalidate()
    with CaptureQueriesContext(connection) as ctx:
        assert tenant_client(tenant_a).get("/login/").status_code == 200
    assert len(_resolution_queries(ctx.captured_queries)) == 1


def test_unknown_host_is_a_clean_404_json_or_html(tenant_a):
    client = tenant_client(tenant_a)
    json_resp = client.get("/", HTTP_HOST="nobody.localhost", HTTP_ACCEPT="application/json")
    assert json_resp.status_code == 404
    assert json_resp.json()["error"]["code"] == "unknown_host"
    html_resp = client.get("/", HTTP_HOST="nobody.localhost", HTTP_ACCEPT="text/html")
    assert html_resp.status_code == 404
    assert b"unknown_host" in html_resp.content
    assert html_resp["Content-Type"].startswith("text/html")


def test_unknown_host_is_negatively_cached(tenant_a):
    client = tenant_client(tenant_a)
    client.get("/", HTTP_HOST="ghost.localhost")
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/", HTTP_HOST="ghost.localhost").status_code == 404
    assert ctx.captured_queries == []


def test_disallowed_host_is_404_not_500(tenant_a):
    response = tenant_client(tenant_a).get("/", HTTP_HOST="evil.example.com")
    assert response.status_code == 404


def test_new_domain_is_seen_after_invalidation(tenant_a):
    client = tenant_client(tenant_a)
    assert client.get("/", HTTP_HOST="alias.localhost").status_code == 404
    Domain.objects.create(domain="alias.localhost", tenant=tenant_a, is_primary=False)
    response = client.get("/login/", HTTP_HOST="alias.localhost")
    assert response.status_code == 200
    assert b"Sign in to Alpha" in response.content


def test_suspended_tenant_is_read_only_with_stable_code(tenant_a):
    client = tenant_client(tenant_a)
    client.get("/login/")
    tenant_a.status = TenantStatus.SUSPENDED
    tenant_a.save()
    assert client.get("/login/").status_code == 200
    blocked = client.post("/", HTTP_ACCEPT="application/json")
    assert blocked.status_code == 402
    assert blocked.json()["error"]["code"] == "tenant_suspended"


def test_closed_tenant_answers_410(tenant_a):
    tenant_a.status = TenantStatus.CLOSED
    tenant_a.save()
    response = tenant_client(tenant_a).get("/", HTTP_ACCEPT="application/json")
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "tenant_closed"


def test_healthz_answers_on_any_host(tenant_a):
    for host in ("alpha.localhost", "localhost", "10.0.0.7"):
        response = tenant_client(tenant_a).get("/healthz", HTTP_HOST=host)
        assert response.status_code == 200, host
        body = response.json()
        assert body["checks"]["database"]["ok"]
        assert body["checks"]["broker"]["ok"]


def test_public_host_serves_public_urls(tenant_a):
    response = tenant_client(tenant_a).get("/", HTTP_HOST="localhost")
    assert response.status_code == 200
    assert b"Create an organization" in response.content  # the public landing page, not a portal


def test_metrics_answers_by_ip_behind_its_token(tenant_a, settings):
    settings.METRICS_TOKEN = "scrape-secret-token"
    client = tenant_client(tenant_a)
    assert client.get("/metrics", HTTP_HOST="10.0.0.7").status_code == 401
    ok = client.get("/metrics", HTTP_HOST="10.0.0.7", HTTP_AUTHORIZATION="Bearer scrape-secret-token")
    assert ok.status_code == 200
    assert b"# TYPE" in ok.content
