"""Set-up for the fault suite, run as a child process against the suite's own servers:

    python -m tests.faults.setup_data OUT.json TENANTS

Organizations subscribed through the Stripe stand-in's Checkout (so their webhook events apply to a
real subscription and invoice), and an API token for the first organization's owner. Writes what the
suite needs to OUT.json. The suite's own process never loads Django: it only signals processes, sends
HTTP and reads the inbox with SQL.
"""

from __future__ import annotations

import contextlib
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def main(out: Path, count: int) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django_tenants.utils import schema_context

    from billing import gateway, services
    from shared_apps.accounts.models import User
    from shared_apps.accounts.services import organization_provision
    from tenant_apps.tokens.services import api_token_create
    from tenants.base.actor import Actor
    from tenants.services import schema_pool_refill

    services.plans_sync()
    schema_pool_refill(size=count)
    tenants = []
    for i in range(count):
        slug = f"faults{i}"
        tenant = organization_provision(slug=slug, name=f"Faults {i}", owner_email=f"owner@{slug}.test")
        url = services.checkout_start(tenant=tenant, plan_code="team", host=f"{slug}.localhost")
        request = urllib.request.Request(f"{url}/complete", data=b"", method="POST")  # noqa: S310 - local stand-in
        with contextlib.suppress(urllib.error.HTTPError):  # 303 to the success URL (not followed)
            urllib.request.build_opener(_NoRedirect).open(request, timeout=10)
        customer = services.billing_customer_ensure(tenant=tenant)
        [sub] = gateway.subscription_list(customer_id=customer.stripe_customer_id)
        invoice = gateway.invoice_retrieve(invoice_id=services.stripe_id(sub["latest_invoice"]))
        tenants.append({"slug": slug, "host": f"{slug}.{settings.TENANT_BASE_DOMAIN}", "sub": sub, "invoice": invoice})
    first = tenants[0]
    with schema_context(tenant_schema(first["slug"])):
        owner = User.objects.get(email=f"owner@{first['slug']}.test")
        _token, raw = api_token_create(actor=Actor(user=owner), user=owner, name="faults")
    first["api_token"] = raw
    out.write_text(json.dumps({"tenants": tenants}, default=str))


def tenant_schema(slug: str) -> str:
    from tenants.models import Tenant

    return str(Tenant.objects.get(slug=slug).schema_name)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
