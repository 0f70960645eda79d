"""The portal in a real browser: headless Debian Chromium against the real WSGI app over HTTP, the
Stripe stand-in's hosted checkout with signed webhooks, and the real Celery worker processing them.

With PORTAL_SCREENSHOTS=1 (`make screenshots`) the tests also save docs/img/{dashboard,members,billing}.png.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.core import mail
from playwright.sync_api import expect

from billing.services import plans_sync
from shared_apps.accounts.models import Membership
from tests.browser.support import (
    PASSWORD,
    PHONE,
    Stack,
    accept_link_in,
    api_get,
    confirm_link_in,
    db,
    screenshot,
    sign_in,
)

# django_db: the test database is set up for these tests (their own data is committed by the server
# threads and by `db()`, which use connections of their own, and removed by the package's teardown).
pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db]
expect.set_options(timeout=10_000)

LABEL_PASSWORD = re.compile(r"^Password:?$")


def messages(page: Any) -> Any:
    """The portal's message list (role=status) at the top of the page."""
    return page.locator("ul.messages")


def test_signup_on_the_public_host_lands_signed_in_on_the_new_dashboard(stack: Stack, new_context: Any) -> None:
    page = new_context().new_page()
    page.goto(f"{stack.public}/signup/")
    page.get_by_label("Organization name").fill("Initech")
    page.get_by_label("Address").fill("initech")
    page.get_by_label("Your email").fill("bill@initech.test")
    page.get_by_label(LABEL_PASSWORD).fill(PASSWORD)
    page.get_by_role("button", name="Create organization").click()
    # The same answer for every email (issue 10, point 8): the organization waits for the mailed link.
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    link = confirm_link_in(mail.outbox, "bill@initech.test")
    assert link.startswith(f"{stack.public}/signup/confirm/")
    page.goto(link)
    page.get_by_role("button", name="Create organization").click()

    page.wait_for_url(f"{stack.origin('initech')}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Initech")
    expect(page.get_by_role("banner")).to_contain_text("bill@initech.test")
    expect(page.get_by_role("banner")).to_contain_text("Owner")
    expect(page.get_by_role("navigation", name="Portal").get_by_role("link", name="Members")).to_be_visible()
    assert db(lambda: list(Membership.objects.filter(tenant__slug="initech").values_list("user__email", "role"))) == [
        ("bill@initech.test", "owner")
    ]


def test_invitation_accepted_in_a_second_context_shows_the_new_member(
    stack: Stack, globex: dict[str, Any], new_context: Any
) -> None:
    origin, invitee = stack.origin("globex"), "lena@globex.test"
    admin = sign_in(new_context(), origin, globex["owner"])
    admin.goto(f"{origin}/members/")
    admin.get_by_label("Email").fill(invitee)
    admin.get_by_label(re.compile(r"^Role:?$")).select_option("member")
    admin.get_by_role("button", name="Send invitation").click()
    expect(messages(admin)).to_contain_text(f"Invitation sent to {invitee}.")
    expect(admin.get_by_role("row").filter(has_text=invitee)).to_contain_text("Member")
    link = accept_link_in(mail.outbox, invitee)
    assert link.startswith(f"{origin}/invitations/accept/")

    guest = new_context().new_page()
    guest.goto(link)
    expect(guest.get_by_role("heading", level=1)).to_have_text("Join Globex")
    guest.get_by_label("Your name").fill("Lena Park")
    guest.get_by_label(LABEL_PASSWORD).fill(PASSWORD)
    guest.get_by_label("Password again").fill(PASSWORD)
    guest.get_by_role("button", name="Accept invitation").click()
    guest.wait_for_url(f"{origin}/")
    expect(messages(guest)).to_contain_text("Welcome to Globex!")
    expect(guest.get_by_role("banner")).to_contain_text(invitee)

    admin.reload()
    people = admin.get_by_role("region", name="People")
    expect(people.get_by_role("row").filter(has_text=invitee)).to_be_visible()
    expect(admin.get_by_label(f"Role of {invitee}")).to_have_value("member")
    expect(admin.get_by_role("region", name="Pending invitations")).to_contain_text("No pending invitations.")


def test_owner_changes_a_members_role(stack: Stack, northwind: dict[str, Any], new_context: Any) -> None:
    origin, person = stack.origin("northwind"), "priya@northwind.test"
    page = sign_in(new_context(), origin, northwind["owner"])
    page.goto(f"{origin}/members/")
    expect(page.get_by_label(f"Role of {person}")).to_have_value("member")
    page.get_by_label(f"Role of {person}").select_option("admin")
    page.get_by_role("row").filter(has_text=person).get_by_role("button", name="Change").click()

    expect(messages(page)).to_contain_text(f"{person} is now admin.")
    expect(page.get_by_label(f"Role of {person}")).to_have_value("admin")
    assert db(lambda: Membership.objects.get(tenant__slug="northwind", user__email=person).role) == "admin"


def test_api_token_is_shown_once_works_and_stops_working_when_revoked(
    stack: Stack, northwind: dict[str, Any], new_context: Any
) -> None:
    origin = stack.origin("northwind")
    page = sign_in(new_context(), origin, northwind["owner"])
    page.goto(f"{origin}/tokens/")
    page.get_by_label("Name").fill("CI deploy")
    page.get_by_role("button", name="Create token").click()
    expect(messages(page)).to_contain_text("shown only once")
    secret = page.get_by_test_id("new-token").inner_text().strip()
    assert len(secret) > 20
    assert api_get(stack, "northwind", "/api/v1/me/", secret) == 200

    # Opened again (a fresh GET: reloading the POST result would submit the form twice).
    page.goto(f"{origin}/tokens/")
    expect(page.get_by_test_id("new-token")).to_have_count(0)
    assert secret not in page.content()
    row = page.get_by_role("row").filter(has_text="CI deploy")
    expect(row).to_contain_text("active")

    row.get_by_role("button", name="Revoke token CI deploy").click()
    expect(messages(page)).to_contain_text("Token CI deploy revoked.")
    expect(page.get_by_role("row").filter(has_text="CI deploy")).to_contain_text("revoked")
    assert api_get(stack, "northwind", "/api/v1/me/", secret) == 401


def test_upgrade_through_the_standin_checkout_changes_the_plan(
    stack: Stack, northwind: dict[str, Any], new_context: Any
) -> None:
    db(plans_sync)
    origin = stack.origin("northwind")
    page = sign_in(new_context(), origin, northwind["owner"])
    page.goto(f"{origin}/billing/")
    expect(page.get_by_test_id("billing-plan")).to_have_text("Free")

    page.get_by_role("button", name="Upgrade to Team").click()
    page.wait_for_url(f"{stack.standin.url}/checkout/**")
    expect(page.get_by_role("heading", name="Subscribe")).to_be_visible()
    page.get_by_role("button", name="Pay", exact=True).click()

    page.wait_for_url(re.compile(re.escape(f"{origin}/billing/?checkout=success") + "$"))
    expect(messages(page)).to_contain_text("Thank you!")
    # The plan changes once the stand-in's signed webhooks went through the worker.
    deadline = time.monotonic() + 20
    while not (
        page.get_by_test_id("billing-plan").inner_text().strip() == "Team" and page.locator("tr[data-invoice]").count()
    ):
        assert time.monotonic() < deadline, "the plan shown did not become Team within 20 s"
        page.wait_for_timeout(400)
        page.goto(f"{origin}/billing/")
    expect(page.locator("[data-plan=team]")).to_contain_text("Current")
    expect(page.locator("tr[data-invoice]").first).to_contain_text("paid")
    screenshot(page, "billing")

    # Team has room for a fourth seat: an invitation stays pending next to the three members.
    page.goto(f"{origin}/members/")
    page.get_by_label("Email").fill("sam@northwind.test")
    page.get_by_label(re.compile(r"^Role:?$")).select_option("billing")
    page.get_by_role("button", name="Send invitation").click()
    expect(messages(page)).to_contain_text("Invitation sent to sam@northwind.test.")
    screenshot(page, "members")

    page.goto(f"{origin}/")
    expect(page.get_by_test_id("plan-name")).to_have_text("Team")
    screenshot(page, "dashboard")


def test_plain_member_cannot_reach_admin_pages_and_the_dashboard_fits_a_phone(
    stack: Stack, northwind: dict[str, Any], new_context: Any
) -> None:
    origin, member = stack.origin("northwind"), "marco@northwind.test"
    page = sign_in(new_context(), origin, member)
    nav = page.get_by_role("navigation", name="Portal")
    expect(nav.get_by_role("link", name="Dashboard")).to_be_visible()
    expect(nav.get_by_role("link", name="Members")).to_have_count(0)
    for path in ("/members/", "/settings/", "/audit/"):
        response = page.goto(f"{origin}{path}")
        assert response is not None, path
        assert response.status == 403, path
        expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")

    for email in (member, northwind["owner"]):
        phone = sign_in(new_context(viewport=PHONE), origin, email)
        expect(phone.get_by_role("heading", level=1)).to_have_text("Northwind Traders")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the dashboard of {email} is {width}px wide at 375px"
