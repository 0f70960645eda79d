"""The stand-in's billing model: Stripe-shaped objects, their state machines and the events they emit.

One module per Stripe resource lives in :mod:`deploy.stripe_standin.resources`; :class:`Engine` combines
them. Every public method runs with ``store.lock`` held by the caller (the HTTP layer takes it per request).
"""

from __future__ import annotations

from typing import ClassVar

from deploy.stripe_standin.resources import (
    catalog,
    charges,
    checkout,
    customers,
    events,
    invoices,
    meters,
    portal,
    subscriptions,
)
from deploy.stripe_standin.resources.checkout import Checkout
from deploy.stripe_standin.resources.clock import TimeControl
from deploy.stripe_standin.resources.core import Resource
from deploy.stripe_standin.resources.portal import Portal


class Engine(TimeControl, Checkout, Portal):
    RESOURCES: ClassVar[dict[str, Resource]] = {
        r.kind: r
        for module in (customers, catalog, subscriptions, invoices, charges, checkout, portal, meters, events)
        for r in module.RESOURCES
    }


__all__ = ["Engine", "Resource"]
