"""Every resource the stand-in declares answers list and retrieve the same way (one generic implementation)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from deploy.stripe_standin.engine import Engine
from deploy.stripe_standin.server import StandinServer

AUTH = {"Authorization": "Bearer sk_test_resources"}
REQUIRED = {"subscription_item": {"subscription": "sub_missing"}}  # list filters Stripe requires


@pytest.fixture
def api() -> Iterator[httpx.Client]:
    with StandinServer(port=0) as server, httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as client:
        yield client


def test_every_listed_resource_lists_and_retrieves_alike(api: httpx.Client) -> None:
    listed = [r for r in Engine.RESOURCES.values() if r.path]
    assert {r.kind for r in listed} >= {"customer", "price", "subscription", "invoice", "checkout.session", "event"}
    for resource in listed:
        assert resource.path is not None
        page = api.get(resource.path, params={"limit": 3, **REQUIRED.get(resource.kind, {})})
        assert page.status_code == 200, (resource.kind, page.text)
        assert page.json() == {"object": "list", "data": [], "has_more": False, "url": resource.path}

        missing = api.get(f"{resource.path}/x_missing")
        assert missing.status_code == 404, resource.kind
        error = missing.json()["error"]
        assert error["code"] == "resource_missing"
        assert error["message"] == f"No such {resource.label or resource.kind}: 'x_missing'"

        cursor = api.get(resource.path, params={"starting_after": "x_missing", **REQUIRED.get(resource.kind, {})})
        assert cursor.status_code == 400, resource.kind
        assert cursor.json()["error"]["param"] == "starting_after"

        bad_limit = api.get(resource.path, params={"limit": 0, **REQUIRED.get(resource.kind, {})})
        assert bad_limit.status_code == 400
        assert bad_limit.json()["error"]["param"] == "limit"


def test_pages_filters_and_expansion_on_a_generic_list(api: httpx.Client) -> None:
    ids = [api.post("/v1/customers", data={"email": f"c{i}@example.test"}).json()["id"] for i in range(5)]
    newest_first = ids[::-1]

    first = api.get("/v1/customers", params={"limit": 2}).json()
    assert [c["id"] for c in first["data"]] == newest_first[:2]
    assert first["has_more"] is True
    second = api.get("/v1/customers", params={"limit": 2, "starting_after": newest_first[1]}).json()
    assert [c["id"] for c in second["data"]] == newest_first[2:4]
    assert second["has_more"] is True
    back = api.get("/v1/customers", params={"limit": 2, "ending_before": newest_first[2]}).json()
    assert [c["id"] for c in back["data"]] == newest_first[:2]

    only = api.get("/v1/customers", params={"email": "c3@example.test"}).json()
    assert [c["id"] for c in only["data"]] == [ids[3]]

    api.delete(f"/v1/customers/{ids[0]}")
    assert ids[0] not in [c["id"] for c in api.get("/v1/customers", params={"limit": 10}).json()["data"]]
    assert api.get(f"/v1/customers/{ids[0]}").json() == {"id": ids[0], "object": "customer", "deleted": True}

    events = api.get("/v1/events", params={"type": "customer.*", "limit": 10}).json()
    assert [e["type"] for e in events["data"]][:2] == ["customer.deleted", "customer.created"]
