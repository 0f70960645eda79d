"""The finance dashboard in a real browser: platform staff sign in on the public site, land on
/finance/, filter by dates and plan, and see the figures and the server-rendered charts.

With PORTAL_SCREENSHOTS=1 (`make screenshots`) it saves docs/img/finance.png."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from shared_apps.accounts.models import User
from tests.browser.a11y import page_problems
from tests.browser.support import PASSWORD, Stack, db, screenshot
from tests.finance.support import build_story, plans_with_enterprise

pytestmark = [pytest.mark.browser, pytest.mark.django_db]
expect.set_options(timeout=10_000)


def test_staff_sign_in_filter_and_see_the_charts(stack: Stack, new_context: Any, settings: Any) -> None:
    plans_with_enterprise(settings)  # the server threads share these settings
    db(build_story)
    db(lambda: User.objects.create_user(email="finance@platform.test", password=PASSWORD, is_staff=True))

    page = new_context().new_page()
    page.goto(f"{stack.public}/finance/")
    page.wait_for_url(f"{stack.public}/signin/?next=%2Ffinance%2F")
    page.get_by_label("Email").fill("finance@platform.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Find my organizations").click()
    page.wait_for_url(f"{stack.public}/finance/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Finance")
    expect(page.get_by_role("navigation", name="Site").get_by_role("link", name="Finance")).to_be_visible()

    # Calendar year 2025, every plan.
    page.get_by_label("From").fill("2025-01-01")
    page.get_by_label("To").fill("2025-12-31")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(f"{stack.public}/finance/?from=2025-01-01&to=2025-12-31&plan=")
    usd = page.locator('[data-currency="USD"]')
    expect(usd.locator('[data-figure="mrr"]')).to_have_text("125.83 USD")
    expect(usd.locator('[data-figure="arr"]')).to_have_text("1,509.96 USD")
    chart = page.get_by_role("img", name="MRR per month by plan, USD")
    expect(chart).to_be_visible()
    assert chart.locator("rect").count() == 30  # 12 months, 1 to 3 plans stacked in each
    box = chart.bounding_box()
    assert box is not None
    assert box["width"] > 400
    assert box["height"] > 100
    # The stylesheet is a file from the app (no inline style): the filter is laid out in a row.
    assert page.locator("form.fin-filter").evaluate("f => getComputedStyle(f).display") == "flex"
    screenshot(page, "finance")
    # Accessible (axe-core: no serious or critical violation), no sideways scrolling, a title.
    assert page_problems(page, skip_link=False) == []
    page.set_viewport_size({"width": 375, "height": 800})
    assert page_problems(page, skip_link=False) == []
    page.set_viewport_size({"width": 1280, "height": 900})

    # Only the team plan.
    page.get_by_label("Plan:", exact=True).select_option("team")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(f"{stack.public}/finance/?from=2025-01-01&to=2025-12-31&plan=team")
    expect(page.locator('[data-currency="USD"] [data-figure="mrr"]')).to_have_text("36.00 USD")
    expect(page.locator('[data-figure="active"]')).to_have_text("2")
    expect(page.get_by_role("link", name="Invoices CSV")).to_have_attribute(
        "href", "/finance/invoices.csv?from=2025-01-01&to=2025-12-31&plan=team"
    )

    # A bad date gets the page back with the error and its code, not a 500.
    page.goto(f"{stack.public}/finance/?from=2025-02-30")
    expect(page.get_by_text("Error code: date_invalid")).to_be_visible()
    assert page_problems(page, skip_link=False) == []
