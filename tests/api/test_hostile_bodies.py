"""Hostile JSON bodies on the API: a 400 with a machine-readable code, nothing written, never a 500.

On the original code 1,000 nested `[` (2 kB) raised RecursionError (500) on the token exchange (no
sign-in needed), invitation accept and project create; an unpaired surrogate reached PostgreSQL or the
password hasher (500).
"""

from __future__ import annotations

import pytest

from tests.factories import TEST_PASSWORD
from tests.support.api import Api, snapshot

pytestmark = pytest.mark.django_db

DEEP = "[" * 1000 + "]" * 1000


def _deep_in_object(key: str) -> str:
    return '{"%s": %s}' % (key, "[" * 1000 + "]" * 1000)  # noqa: UP031 - raw JSON, json.dumps would recurse


@pytest.mark.parametrize(
    ("path", "signed_in"),
    [
        ("/api/v1/auth/token/", False),
        ("/api/v1/invitations/accept/", False),
        ("/api/v1/projects/", True),
    ],
)
@pytest.mark.parametrize("raw", [DEEP, _deep_in_object("name"), "[" * 60000])
def test_deep_nesting_is_400_and_writes_nothing(tenant_a, owner_a, path, signed_in, raw):
    before = snapshot(tenant_a)
    api = Api(tenant_a, user=owner_a if signed_in else None)
    r = api.post(path, raw=raw)
    assert r.status_code == 400, r.content
    assert r.json()["error"]["code"] == "json_too_deep"
    assert snapshot(tenant_a) == before


def test_ordinary_nesting_still_parses(tenant_a, owner_a):
    r = Api(tenant_a, user=owner_a).post("/api/v1/projects/", {"name": "Nested ok", "extra": [[[[{"a": [1]}]]]]})
    assert r.status_code == 201, r.content


@pytest.mark.parametrize("name", ["Apollo\u0000", "Apollo\ud800", "\udfff"])
def test_unstorable_text_in_project_create_is_400(tenant_a, owner_a, name):
    before = snapshot(tenant_a)
    r = Api(tenant_a, user=owner_a).post("/api/v1/projects/", {"name": name})
    assert r.status_code == 400, r.content
    assert r.json()["error"]["code"] == "invalid"
    assert "NUL" in r.json()["error"]["fields"]["name"][0]
    assert snapshot(tenant_a) == before


@pytest.mark.usefixtures("owner_a")
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "owner@alpha.test", "password": TEST_PASSWORD + "\u0000"}, "password"),
        ({"email": "owner@alpha.test", "password": "\ud800"}, "password"),
        ({"email": "owner\u0000@alpha.test", "password": TEST_PASSWORD}, "email"),
        ({"email": "owner@alpha.test", "password": TEST_PASSWORD, "name": "cli\ud83d"}, "name"),
        ({"email": "owner@alpha.test", "password": TEST_PASSWORD, "x": {"k\u0000": 1}}, "x.k\ufffd"),
    ],
)
def test_unstorable_text_in_token_create_is_400(tenant_a, body, field):
    before = snapshot(tenant_a)
    r = Api(tenant_a).post("/api/v1/auth/token/", body)
    assert r.status_code == 400, r.content
    assert r.json()["error"]["code"] == "invalid"
    assert field in r.json()["error"]["fields"]
    assert snapshot(tenant_a) == before


def test_a_valid_surrogate_pair_is_text_not_an_error(tenant_a, owner_a):
    r = Api(tenant_a, user=owner_a).post("/api/v1/projects/", raw='{"name": "Rocket \\ud83d\\ude80"}')
    assert r.status_code == 201, r.content
    assert r.json()["name"] == "Rocket \U0001f680"


@pytest.mark.parametrize("raw", ['{"name": NaN}', '{"name": 1e400}', "{", '{"name": "x"} trailing'])
def test_not_json_is_400_malformed_json(tenant_a, owner_a, raw):
    before = snapshot(tenant_a)
    r = Api(tenant_a, user=owner_a).post("/api/v1/projects/", raw=raw)
    assert r.status_code == 400, r.content
    assert r.json()["error"]["code"] == "malformed_json"
    assert snapshot(tenant_a) == before
