"""The product's own error pages, never Django's debug or default ones, and a CSP on every page.

On the original code `make run` ran with DEBUG on (a 404 listed the URL configuration, a 500 dumped the
settings) and no page carried a Content-Security-Policy.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.support.clients import host_of, portal_client

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
DEBUG_PAGE_MARKERS = ("Using the URLconf", "Django tried these URL patterns", "Traceback", "DEBUG = True", "SECRET_KEY")


def _local_debug(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "DJANGO_DEBUG"}
    code = "import config.settings.local as s; print(s.DEBUG)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_make_run_settings_have_debug_off_unless_asked_for() -> None:
    assert _local_debug() == "False"
    assert _local_debug(DJANGO_DEBUG="1") == "True"


def _assert_product_page(response, status: int, code: str) -> str:
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert f'data-error-code="{code}"' in html
    assert "portal/portal.css" in html  # the product's stylesheet
    for marker in DEBUG_PAGE_MARKERS:
        assert marker not in html
    return html


def test_404_on_a_tenant_host_is_the_portal_page(tenant_a) -> None:
    response = portal_client(tenant_a).get("/no-such-page/", HTTP_ACCEPT="text/html")
    html = _assert_product_page(response, 404, "not_found")
    assert tenant_a.name in html  # the organization's header


def test_404_on_the_public_host_is_the_site_page() -> None:
    response = Client(HTTP_HOST="localhost").get("/no-such-page/", HTTP_ACCEPT="text/html")
    html = _assert_product_page(response, 404, "not_found")
    assert 'href="/signup/"' in html  # the public site's header


def test_404_for_an_api_path_is_the_json_envelope(tenant_a) -> None:
    response = portal_client(tenant_a).get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("where", ["tenant", "public"])
def test_forced_500_is_the_product_page(settings, tenant_a, where: str) -> None:
    settings.ROOT_URLCONF = "tests.portal.urls_forced_error_tenant"
    settings.PUBLIC_SCHEMA_URLCONF = "tests.portal.urls_forced_error_public"
    host = host_of(tenant_a) if where == "tenant" else "localhost"
    client = Client(HTTP_HOST=host, raise_request_exception=False)
    html = _assert_product_page(client.get("/forced-error/", HTTP_ACCEPT="text/html"), 500, "server_error")
    assert "SECRET_MARKER_5f1e" not in html
    assert "RuntimeError" not in html
    as_json = client.get("/forced-error/", HTTP_ACCEPT="application/json")
    assert as_json.status_code == 500
    assert as_json.json()["error"]["code"] == "server_error"


@pytest.mark.parametrize("where", ["tenant", "public"])
def test_suspicious_request_is_the_standalone_400_page(tenant_a, where: str) -> None:
    """Too many form fields (a SuspiciousOperation): Django's handler400 path, with no request context."""
    host, path = (host_of(tenant_a), "/login/") if where == "tenant" else ("localhost", "/signin/")
    client = Client(HTTP_HOST=host, raise_request_exception=False)
    response = client.post(path, data={f"f{i}": "x" for i in range(1500)}, HTTP_ACCEPT="text/html")
    _assert_product_page(response, 400, "bad_request")


def test_unknown_organization_host_is_a_product_404() -> None:
    response = Client(HTTP_HOST="no-such-org.localhost").get("/", HTTP_ACCEPT="text/html")
    assert response.status_code == 404
    assert "unknown_host" in response.content.decode()
    assert "URLconf" not in response.content.decode()


@pytest.mark.parametrize("path", ["/login/", "/no-such-page/"])
def test_csp_header_on_portal_pages(tenant_a, path: str) -> None:
    response = portal_client(tenant_a).get(path)
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "unsafe-inline" not in policy


def test_csp_header_on_signed_in_portal_page(tenant_a, owner_a) -> None:
    response = portal_client(tenant_a, owner_a).get("/")
    assert response.status_code == 200
    assert "script-src 'self'" in response["Content-Security-Policy"]
    html = response.content.decode()
    assert "<style" not in html
    assert " style=" not in html
    assert "onsubmit=" not in html


@pytest.mark.parametrize("path", ["/", "/signup/", "/signin/"])
def test_csp_header_on_public_pages(path: str) -> None:
    response = Client(HTTP_HOST="localhost").get(path)
    assert response.status_code == 200
    assert "default-src 'self'" in response["Content-Security-Policy"]


def test_api_docs_are_under_the_csp_and_served_from_this_origin(tenant_a) -> None:
    client = portal_client(tenant_a)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    html = response.content.decode()
    assert "<style" not in html
    assert " style=" not in html
    assert "<script>" not in html
    assert "cdn." not in html
    assert "https://" not in html
    bundles = re.findall(r'src="([^"]+)"', html)
    assert "/api/docs/?script=" in bundles
    for src in bundles:  # the sidecar's bundles and the start-up script, all from this host
        script = client.get(src)
        assert script.status_code == 200, src
        assert "javascript" in script["Content-Type"], src
    redoc = client.get("/api/redoc/")
    assert redoc.status_code == 200
    assert "script-src 'self'" in redoc["Content-Security-Policy"]
    assert "https://" not in redoc.content.decode()


def test_the_stylesheet_and_script_are_served_with_debug_off(tenant_a) -> None:
    for path, kind in (("/static/portal/portal.css", "text/css"), ("/static/portal/portal.js", "javascript")):
        response = Client(HTTP_HOST=host_of(tenant_a)).get(path)
        assert response.status_code == 200, path
        assert kind in response["Content-Type"], path
