"""Outgoing webhook fixtures: a real HTTP receiver in a thread on a free port chosen at run time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tenant_apps.outgoing.receiver import Receiver
from tests.support.api import _generous_plan  # noqa: F401 - unlimited projects for these tests too


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
