"""Outgoing webhook fixtures: a real HTTP receiver in a thread on a free port chosen at run time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context

from tenant_apps.outgoing import services
from tenant_apps.outgoing.models import WebhookEndpoint
from tenant_apps.outgoing.receiver import Receiver
from tenants.base.actor import Actor
from tests.api.conftest import _generous_plan  # noqa: F401 - unlimited projects for these tests too


@pytest.fixture
def receiver_factory() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def make(**kwargs: Any) -> Receiver:
        r = Receiver(**kwargs)
        r.__enter__()
        started.append(r)
        return r

    yield make
    for r in started:
        r.__exit__(None, None, None)


def make_endpoint(tenant: Any, url: str, types: list[str] | None = None) -> tuple[WebhookEndpoint, str]:
    with schema_context(tenant.schema_name):
        return services.endpoint_create(actor=Actor(user=None), url=url, event_types=types or ["*"])
