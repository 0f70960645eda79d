"""The Content-Security-Policy in a real browser: no violation on portal or public pages, the static
stylesheet applies, and what used to be inline (meter widths, the remove confirmation) still works."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.support import Stack, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db]
expect.set_options(timeout=10_000)

PAGE_BACKGROUND = "rgb(246, 247, 250)"  # --bg in portal.css


def _watch_violations(context: Any) -> list[str]:
    """Every CSP violation the browser reports (console error and securitypolicyviolation event)."""
    seen: list[str] = []
    context.add_init_script(
        "document.addEventListener('securitypolicyviolation',"
        " e => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )

    def on_page(page: Any) -> None:
        page.on(
            "console",
            lambda msg: (
                seen.append(msg.text) if "Content Security Policy" in msg.text or "CSP violation" in msg.text else None
            ),
        )

    context.on("page", on_page)
    return seen


def test_portal_and_public_pages_load_under_the_policy(
    stack: Stack, northwind: dict[str, Any], new_context: Any
) -> None:
    context = new_context()
    violations = _watch_violations(context)
    origin = stack.origin("northwind")

    public = context.new_page()
    response = public.goto(f"{stack.public}/signin/")
    assert response is not None
    assert "script-src 'self'" in (response.headers.get("content-security-policy") or "")
    assert public.evaluate("getComputedStyle(document.body).backgroundColor") == PAGE_BACKGROUND
    missing = public.goto(f"{stack.public}/no-such-page/")
    assert missing is not None
    assert missing.status == 404
    expect(public.get_by_role("heading", level=1)).to_have_text("Page not found")

    page = sign_in(context, origin, northwind["owner"])
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == PAGE_BACKGROUND
    bar = page.locator(".meter > span").first
    expect(bar).to_have_attribute("style", re.compile(r"width: \d+(\.\d+)?%;?"))  # set by portal.js

    page.goto(f"{origin}/members/")
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.get_by_role("button", name="Remove marco@northwind.test").click()
    expect(page.get_by_role("button", name="Remove marco@northwind.test")).to_be_visible()
    assert asked == ["Remove marco@northwind.test from the organization?"]  # cancelled: nothing removed
    assert page.url == f"{origin}/members/"

    page.goto(f"{origin}/no-such-page/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.get_by_role("banner")).to_contain_text("Northwind Traders")
    assert violations == []
