"""What every page must pass in the browser tests, at 1280 and 375 px (issue 12, "Polish"):

- axe-core (through axe-playwright-python, which bundles axe-core's JavaScript) finds no violation of
  serious or critical impact;
- the page does not scroll sideways (`document.scrollingElement.scrollWidth <= window.innerWidth`), and
  no link, button or field lies outside the viewport's width (say, inside a table that scrolls);
- it has its own `<title>` ("<page> · Tenantry") and a skip link to the main content;
- (with `OriginLog`) every request it made went to its own origin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

BLOCKING_IMPACTS = frozenset({"serious", "critical"})


def axe_violations(page: Any) -> list[str]:
    """Serious and critical axe-core violations on the page, one readable line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = []
    for violation in results.response["violations"]:
        if violation.get("impact") in BLOCKING_IMPACTS:
            targets = [" ".join(map(str, node.get("target", []))) for node in violation.get("nodes", [])][:5]
            found.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return found


def horizontal_overflow(page: Any) -> str | None:
    """None when the page fits its viewport's width, else what overflows."""
    scroll, inner = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    if scroll <= inner:
        return None
    widest = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 3).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + e.className)"""
    )
    return f"scrollWidth {scroll}px > innerWidth {inner}px (wider: {widest})"


def controls_out_of_reach(page: Any) -> list[str]:
    """Visible links, buttons and fields that lie left or right of the viewport, e.g. a button at the end
    of a table row that only a sideways scroll inside the table would reveal."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea')]
            .filter(e => {
                const r = e.getBoundingClientRect();
                return r.width > 1 && r.height > 1 && (r.right > window.innerWidth + 1 || r.left < -1);
            })
            .slice(0, 5).map(e => e.outerHTML.slice(0, 100))"""
    )
    return found


def page_problems(page: Any, *, skip_link: bool = True) -> list[str]:
    """Everything wrong with the page that is open now (empty when it passes)."""
    label = urlsplit(page.url).path or "/"
    problems = [f"{label}: {v}" for v in axe_violations(page)]
    if overflow := horizontal_overflow(page):
        problems.append(f"{label}: {overflow}")
    if unreachable := controls_out_of_reach(page):
        problems.append(f"{label}: controls outside the viewport's width: {unreachable}")
    title = page.title()
    if not title.endswith(" · Tenantry") or title == " · Tenantry":
        problems.append(f"{label}: title {title!r} does not name the page")
    if skip_link and page.locator("a.skip-link[href='#content']").count() != 1:
        problems.append(f"{label}: no skip link to #content")
    return problems


@dataclass
class OriginLog:
    """Every subresource request of a browser context's pages, with the origin of the document that made
    it and how it ended: loaded, or refused (by the Content-Security-Policy, typically)."""

    requests: list[tuple[str, str, bool]] = field(default_factory=list)  # (document origin, URL, loaded)

    def attach(self, context: Any) -> OriginLog:
        def record(request: Any, loaded: bool) -> None:
            if request.is_navigation_request():
                return  # going to a page is not loading something into one
            self.requests.append((_origin(request.frame.url), request.url, loaded))

        context.on("requestfinished", lambda request: record(request, True))
        context.on("requestfailed", lambda request: record(request, False))
        return self

    def foreign(self, *, loaded_only: bool = False) -> list[str]:
        """Requests for another origin than their page's (data: and blob: URLs are not requests elsewhere);
        with `loaded_only`, just those that actually loaded."""
        bad = []
        for page_origin, url, loaded in self.requests:
            if url.startswith(("data:", "blob:", "about:")) or (loaded_only and not loaded):
                continue
            if page_origin in ("", "null") or _origin(url) == page_origin:
                continue
            bad.append(f"{page_origin} {'loaded' if loaded else 'tried'} {url}")
        return bad


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
