"""Outgoing webhooks in a real browser: an owner adds an endpoint (the secret is shown once), sends a
test event that the real Celery worker delivers to a real local receiver, reads the delivery log and
sends the event again; a plain member has no way in."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tenant_apps.outgoing.receiver import Receiver
from tests.browser.support import Stack, db, organization_seed, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db]
expect.set_options(timeout=10_000)


@pytest.fixture(scope="module")
def hooks_org(stack: Stack) -> dict[str, Any]:  # noqa: ARG001 - requested for its side effect (usefixtures does not apply to fixtures)
    return db(
        lambda: organization_seed(
            "hookshop",
            "Hook Shop",
            [("olga@hookshop.test", "Olga Owner", "owner"), ("max@hookshop.test", "Max Member", "member")],
            [],
        )
    )


def _reload_until(page: Any, locator: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if locator.count():
            return
        time.sleep(0.3)
        page.reload()
    raise AssertionError("the delivery log never showed the expected row")


@pytest.mark.usefixtures("hooks_org")
def test_owner_adds_an_endpoint_sends_a_test_event_and_resends_it(stack: Stack, new_context: Any) -> None:
    origin = stack.origin("hookshop")
    with Receiver() as receiver:
        page = sign_in(new_context(), origin, "olga@hookshop.test")
        page.get_by_role("navigation", name="Portal").get_by_role("link", name="Webhooks").click()
        page.wait_for_url(f"{origin}/webhooks/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Webhooks")
        page.get_by_label("URL").fill(receiver.url)
        page.get_by_label("Description").fill("Local receiver")
        page.get_by_label("All events").uncheck()
        page.get_by_label("project.created").check()
        expect(page.get_by_label("webhook.test", exact=True)).to_have_count(0)  # not a subscribable type
        page.get_by_role("button", name="Add endpoint").click()
        secret = page.get_by_test_id("new-secret").inner_text().strip()
        assert re.fullmatch(r"whsec_[A-Za-z0-9_-]{40,}", secret)
        receiver.secret = secret
        screenshot(page, "webhooks")

        page.get_by_role("link", name="Open the endpoint").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(receiver.url)
        expect(page.get_by_text(secret)).to_have_count(0)  # shown once only
        page.get_by_role("button", name="Send a test event").click()
        expect(page.locator("ul.messages")).to_contain_text("Test event queued")
        succeeded = page.locator('tr[data-status="succeeded"]')
        _reload_until(page, succeeded)
        expect(succeeded.first).to_contain_text("webhook.test")
        expect(succeeded.first).to_contain_text("HTTP 200")
        [event] = receiver.events()
        assert event["type"] == "webhook.test"
        assert event["organization"] == "hookshop"

        succeeded.first.get_by_role("button", name=re.compile("Send event .* again")).click()
        expect(page.locator("ul.messages")).to_contain_text("queued again")
        _reload_until(page, page.locator('tr[data-status="succeeded"]').nth(1))
        assert [e["id"] for e in receiver.events()] == [event["id"], event["id"]]  # the same event, again


@pytest.mark.usefixtures("hooks_org")
def test_a_member_cannot_reach_webhooks(stack: Stack, new_context: Any) -> None:
    origin = stack.origin("hookshop")
    page = sign_in(new_context(), origin, "max@hookshop.test")
    expect(page.get_by_role("navigation", name="Portal").get_by_role("link", name="Webhooks")).to_have_count(0)
    response = page.goto(f"{origin}/webhooks/")
    assert response is not None
    assert response.status == 403
