"""Fixtures of the browser tests (headless Debian Chromium through Playwright's sync API).

The stack is package-scoped: it starts before the first browser test and is taken down, with every
row and schema the tests committed, after the last one, so the test folders that run later in the
same session see the database, the schema pool and the stand-in as they were.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test.utils import override_settings

from tests.billing.support import OLD_SECRET, SECRET, LiveDjango, standin
from tests.browser.support import (
    CHROMIUM_ARGS,
    DESKTOP,
    Stack,
    baseline_take,
    chromium_ensure,
    committed_cleanup,
    db,
    organization_seed,
    webhooks_settled,
)

__all__ = ["standin"]


@pytest.fixture(scope="package")
def stack(django_db_setup: Any, django_db_blocker: Any, celery_worker_process: Any, standin: Any) -> Iterator[Stack]:  # noqa: ARG001 - requested for its side effect (usefixtures does not apply to fixtures)
    with django_db_blocker.unblock():
        baseline = db(baseline_take)
        overrides = override_settings(STRIPE_API_BASE=standin.url, STRIPE_WEBHOOK_SECRETS=[SECRET, OLD_SECRET])
        overrides.enable()
        server: LiveDjango | None = None
        try:
            standin.reset()
            server = LiveDjango()
            standin.configure_webhooks(f"{server.url}/webhooks/stripe/", SECRET)
            yield Stack(port=int(server.httpd.server_address[1]), server_url=server.url, standin=standin)
        finally:
            standin.flush_webhooks(10)
            db(lambda: webhooks_settled(baseline))
            if server is not None:
                server.stop()
            standin.configure_webhooks(None, SECRET)
            standin.reset()
            overrides.disable()
            db(lambda: committed_cleanup(baseline))


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, installed with apt on first use when missing."""
    return chromium_ensure()


@pytest.fixture
def browser(chromium: Path, stack: Stack) -> Iterator[Any]:  # noqa: ARG001 - requested for its side effect (usefixtures does not apply to fixtures)
    """Playwright and a headless Chromium for one test (about 1.5 s to start). Not kept across tests:
    while Playwright's sync API runs, the test thread has a running asyncio loop, and pytest-django
    opens each test's transaction on that thread before the test (Django refuses that from a thread
    with a running loop)."""
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
    except Exception:
        playwright.stop()
        raise
    try:
        yield launched
    finally:
        launched.close()
        playwright.stop()


@pytest.fixture
def new_context(browser: Any) -> Iterator[Any]:
    """new_context(**options) -> a fresh browser context (own cookies); closed after the test."""
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        options.setdefault("viewport", DESKTOP)
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


# --- Organizations committed for the tests --------------------------------------------------------


@pytest.fixture(scope="package")
def northwind(stack: Stack) -> dict[str, Any]:  # noqa: ARG001 - requested for its side effect (usefixtures does not apply to fixtures)
    """Owner, two members (one gets promoted in a test, one stays a plain member), three projects."""
    return db(
        lambda: organization_seed(
            "northwind",
            "Northwind Traders",
            [
                ("ada@northwind.test", "Ada Lovelace", "owner"),
                ("priya@northwind.test", "Priya Patel", "member"),
                ("marco@northwind.test", "Marco Rossi", "member"),
            ],
            ["Website redesign", "Mobile app", "Data warehouse"],
        )
    )


@pytest.fixture(scope="package")
def globex(stack: Stack) -> dict[str, Any]:  # noqa: ARG001 - requested for its side effect (usefixtures does not apply to fixtures)
    """Only an owner: room on the Free plan's three seats for an invitation."""
    return db(lambda: organization_seed("globex", "Globex", [("hank@globex.test", "Hank Scorpio", "owner")], []))
