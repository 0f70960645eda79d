"""Idempotency-Key (D61): replay, reuse with another request, concurrency over real HTTP against a
multi-process server, and a replay after the server process was restarted."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from shared_apps.accounts.models import User
from tenant_apps.projects.models import Project
from tenants.base.api.idempotency import idempotency_keys_expire
from tenants.base.api.models import IdempotencyKey
from tests.api.live import Committed, Gunicorn, committed_cleanup, committed_token
from tests.billing.support import in_thread
from tests.support.api import Api, make_project, snapshot
from tests.support.clients import host_of

pytestmark = pytest.mark.django_db


def _projects(tenant: Any, name: str) -> int:
    with schema_context(tenant.schema_name):
        return Project.objects.filter(name=name).count()


def test_same_key_same_request_replays_without_a_second_effect(tenant_a, owner_a) -> None:
    api = Api(tenant_a, user=owner_a)
    key = str(uuid.uuid4())
    first = api.post("/api/v1/projects/", {"name": "Once"}, HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    second = api.post("/api/v1/projects/", {"name": "Once"}, HTTP_IDEMPOTENCY_KEY=key)
    assert second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert _projects(tenant_a, "Once") == 1
    # Without a key, the same request is two projects (as before).
    api.post("/api/v1/projects/", {"name": "Twice"})
    api.post("/api/v1/projects/", {"name": "Twice"})
    assert _projects(tenant_a, "Twice") == 2


def test_same_key_with_another_request_is_422_and_writes_nothing(tenant_a, owner_a) -> None:
    api = Api(tenant_a, user=owner_a)
    key = "key-reused-1"
    assert api.post("/api/v1/projects/", {"name": "First"}, HTTP_IDEMPOTENCY_KEY=key).status_code == 201
    before = snapshot(tenant_a)
    other = api.post("/api/v1/projects/", {"name": "Second"}, HTTP_IDEMPOTENCY_KEY=key)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    # Another path or method with the key is another request too.
    project_id = api.get("/api/v1/projects/", {"search": "First"}).json()["results"][0]["id"]
    patch = api.patch(f"/api/v1/projects/{project_id}/", {"name": "First"}, HTTP_IDEMPOTENCY_KEY=key)
    assert patch.status_code == 422
    assert snapshot(tenant_a) == before


def test_keys_are_per_credential_and_per_organization(tenant_a, tenant_b, owner_a, member_factory) -> None:
    other_admin = member_factory(tenant_a, role="admin")
    key = "shared-key"
    a = Api(tenant_a, user=owner_a).post("/api/v1/projects/", {"name": "Per cred"}, HTTP_IDEMPOTENCY_KEY=key)
    b = Api(tenant_a, user=other_admin).post("/api/v1/projects/", {"name": "Per cred"}, HTTP_IDEMPOTENCY_KEY=key)
    assert a.status_code == b.status_code == 201
    assert "Idempotent-Replayed" not in b.headers
    assert a.json()["id"] != b.json()["id"]
    assert _projects(tenant_a, "Per cred") == 2
    owner_b = User.objects.get(email="owner@beta.test")
    c = Api(tenant_b, user=owner_b).post("/api/v1/projects/", {"name": "Per cred"}, HTTP_IDEMPOTENCY_KEY=key)
    assert c.status_code == 201
    assert "Idempotent-Replayed" not in c.headers


def test_errors_are_not_stored_and_the_key_can_be_used_for_the_fixed_request(tenant_a, owner_a) -> None:
    api = Api(tenant_a, user=owner_a)
    key = "fix-and-retry"
    before = snapshot(tenant_a)
    bad = api.post("/api/v1/projects/", {"name": ""}, HTTP_IDEMPOTENCY_KEY=key)
    assert bad.status_code == 400
    assert snapshot(tenant_a) == before
    assert not IdempotencyKey.objects.filter(key=key).exists()
    good = api.post("/api/v1/projects/", {"name": "Fixed"}, HTTP_IDEMPOTENCY_KEY=key)
    assert good.status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\tkey", "é-unicode"])
def test_malformed_key_is_400_and_writes_nothing(tenant_a, owner_a, key: str) -> None:
    api = Api(tenant_a, user=owner_a)
    before = snapshot(tenant_a)
    response = api.post("/api/v1/projects/", {"name": "Bad key"}, HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"
    assert snapshot(tenant_a) == before


def test_delete_and_patch_replay(tenant_a, owner_a) -> None:
    api = Api(tenant_a, user=owner_a)
    project = make_project(tenant_a, owner_a, "To delete")
    first = api.delete(f"/api/v1/projects/{project.pk}/", HTTP_IDEMPOTENCY_KEY="del-1")
    again = api.delete(f"/api/v1/projects/{project.pk}/", HTTP_IDEMPOTENCY_KEY="del-1")
    assert first.status_code == again.status_code == 204
    assert again.headers["Idempotent-Replayed"] == "true"
    # Without the key, the second delete is a 404: the key is what makes the retry safe.
    assert api.delete(f"/api/v1/projects/{project.pk}/").status_code == 404


def test_expiry_task_deletes_keys_older_than_a_day(tenant_a, owner_a) -> None:
    api = Api(tenant_a, user=owner_a)
    api.post("/api/v1/projects/", {"name": "Old"}, HTTP_IDEMPOTENCY_KEY="old-key")
    api.post("/api/v1/projects/", {"name": "New"}, HTTP_IDEMPOTENCY_KEY="new-key")
    IdempotencyKey.objects.filter(key="old-key").update(created_at=timezone.now() - dt.timedelta(hours=25))
    assert idempotency_keys_expire() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new-key"]
    # An expired key is a new request again.
    again = api.post("/api/v1/projects/", {"name": "Old"}, HTTP_IDEMPOTENCY_KEY="old-key")
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert _projects(tenant_a, "Old") == 2


# --- Real concurrency and restarts: a gunicorn process serving the test database --------------------


@pytest.fixture
def live_token(tenant_a: Any, owner_a: Any) -> Iterator[Committed]:
    """A token committed on another connection (the test's own transaction would hide it from the
    server processes); it, the projects and audit rows made with it and the keys are removed after."""
    committed: list[Committed] = []

    def run() -> Committed:
        c = committed_token(tenant_a, owner_a)
        committed.append(c)
        return c

    yield in_thread(run)
    in_thread(lambda: committed_cleanup(committed[0]))


def test_twenty_concurrent_posts_with_one_key_make_one_project(live_token: Committed, tmp_path: Path) -> None:
    server = Gunicorn(tmp_path / "gunicorn.log")
    try:
        host = host_of(live_token.tenant)
        headers = {"Authorization": f"Bearer {live_token.token}", "Idempotency-Key": "concurrent-1"}
        body = {"name": "Concurrent once"}
        assert server.request("GET", "/api/v1/me/", host=host, headers=headers)[0] == 200  # both workers warm
        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(
                pool.map(
                    lambda _: server.request("POST", "/api/v1/projects/", host=host, body=body, headers=headers),
                    range(20),
                )
            )
        statuses = Counter(status for status, _, _ in results)
        print("statuses of 20 concurrent POSTs:", dict(statuses))
        assert set(statuses) <= {201, 409}, statuses
        created = [data for status, h, data in results if status == 201 and "idempotent-replayed" not in h]
        assert len(created) == 1, statuses
        for status, _, data in results:
            if status == 201:
                assert data == created[0]
            else:
                assert data["error"]["code"] == "idempotency_key_in_progress"
        assert in_thread(lambda: _projects(live_token.tenant, "Concurrent once")) == 1
        # Afterwards, every retry is a replay of that one response.
        status, h, data = server.request("POST", "/api/v1/projects/", host=host, body=body, headers=headers)
        assert (status, h.get("idempotent-replayed"), data) == (201, "true", created[0])
    finally:
        server.stop()


def test_replay_after_the_server_process_restarts(live_token: Committed, tmp_path: Path) -> None:
    host = host_of(live_token.tenant)
    headers = {"Authorization": f"Bearer {live_token.token}", "Idempotency-Key": "restart-1"}
    body = {"name": "Survives restart"}
    first_server = Gunicorn(tmp_path / "first.log")
    try:
        status, h, first = first_server.request("POST", "/api/v1/projects/", host=host, body=body, headers=headers)
        assert status == 201
        assert "idempotent-replayed" not in h
    finally:
        first_server.stop()
    second_server = Gunicorn(tmp_path / "second.log")  # new processes: nothing kept in memory
    try:
        status, h, again = second_server.request("POST", "/api/v1/projects/", host=host, body=body, headers=headers)
        assert (status, h.get("idempotent-replayed"), again) == (201, "true", first)
        other = second_server.request("POST", "/api/v1/projects/", host=host, body={"name": "Else"}, headers=headers)
        assert other[0] == 422
        assert other[2]["error"]["code"] == "idempotency_key_reused"
    finally:
        second_server.stop()
    assert in_thread(lambda: _projects(live_token.tenant, "Survives restart")) == 1


def test_concurrent_patches_with_one_if_match_one_wins_the_rest_412(live_token: Committed, tmp_path: Path) -> None:
    """If-Match is compared on the row locked inside the write's transaction, so of ten writers that
    read the same version, exactly one changes it."""
    server = Gunicorn(tmp_path / "gunicorn.log")
    try:
        host = host_of(live_token.tenant)
        auth = {"Authorization": f"Bearer {live_token.token}"}
        status, _, project = server.request("POST", "/api/v1/projects/", host=host, body={"name": "Race"}, headers=auth)
        assert status == 201
        path = f"/api/v1/projects/{project['id']}/"
        etag = server.request("GET", path, host=host, headers=auth)[1]["etag"]
        with ThreadPoolExecutor(max_workers=10) as pool:
            results = list(
                pool.map(
                    lambda i: server.request(
                        "PATCH", path, host=host, body={"name": f"Writer {i}"}, headers={**auth, "If-Match": etag}
                    ),
                    range(10),
                )
            )
        statuses = Counter(status for status, _, _ in results)
        assert statuses == Counter({200: 1, 412: 9}), statuses
        winner = next(data for status, _, data in results if status == 200)
        assert server.request("GET", path, host=host, headers=auth)[2]["name"] == winner["name"]
    finally:
        server.stop()
