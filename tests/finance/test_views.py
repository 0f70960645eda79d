"""The finance pages over HTTP on the public host: who may see them, what they show, the CSV exports
under filters, and how a bad filter is answered."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from billing.models import Invoice, SubscriptionRevision
from shared_apps.accounts.models import User
from tests.factories import TEST_PASSWORD
from tests.finance.support import build_story, plans_with_enterprise
from tests.support.clients import host_of

pytestmark = pytest.mark.django_db

YEAR = "from=2025-01-01&to=2025-12-31"
URLS = [
    "/finance/",
    "/finance/api/",
    "/finance/invoices.csv",
    "/finance/subscriptions.csv",
    "/finance/movements.csv",
]


@pytest.fixture
def story(settings: Any) -> Any:
    plans_with_enterprise(settings)
    return build_story()


@pytest.fixture
def staff() -> User:
    return User.objects.create_user(email="finance@platform.test", password=TEST_PASSWORD, is_staff=True)


@pytest.fixture
def staff_client(staff: User) -> Client:
    client = Client(HTTP_HOST="localhost")
    client.force_login(staff)
    return client


def _mirror() -> tuple[int, int]:
    return Invoice.objects.count(), SubscriptionRevision.objects.count()


# --- Who may see it -----------------------------------------------------------------------------


@pytest.mark.usefixtures("story")
@pytest.mark.parametrize("url", URLS)
def test_anonymous_is_sent_to_sign_in_or_gets_401(url: str) -> None:
    before = _mirror()
    response = Client(HTTP_HOST="localhost").get(f"{url}?{YEAR}")
    if url == "/finance/api/":
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"
    else:
        assert response.status_code == 302
        assert response["Location"] == "/signin/?" + "next=" + re.sub("/", "%2F", url) + "%3F" + YEAR.replace(
            "=", "%3D"
        ).replace("&", "%26")
    assert b"125.83" not in response.content
    assert _mirror() == before


@pytest.mark.usefixtures("story", "tenant_a")
@pytest.mark.parametrize("url", URLS)
def test_signed_in_people_without_staff_rights_get_404(url: str) -> None:
    owner = User.objects.get(email="owner@alpha.test")  # an organization owner, not platform staff
    client = Client(HTTP_HOST="localhost")
    client.force_login(owner)
    before = _mirror()
    response = client.get(f"{url}?{YEAR}")
    assert response.status_code == 404
    assert b"125.83" not in response.content
    assert b"in_bolt_1" not in response.content
    if url == "/finance/api/":
        assert response.json()["error"]["code"] == "not_found"
    assert _mirror() == before


@pytest.mark.usefixtures("story")
@pytest.mark.parametrize("url", URLS)
def test_staff_get_every_view(staff_client: Client, url: str) -> None:
    assert staff_client.get(f"{url}?{YEAR}").status_code == 200


@pytest.mark.usefixtures("story")
def test_an_inactive_staff_account_gets_nothing(staff: User) -> None:
    client = Client(HTTP_HOST="localhost")
    client.force_login(staff)
    User.objects.filter(pk=staff.pk).update(is_active=False)
    assert client.get(f"/finance/api/?{YEAR}").status_code in (401, 404)


@pytest.mark.usefixtures("story")
@pytest.mark.parametrize("url", URLS)
def test_tenant_hosts_do_not_serve_finance(tenant_a: Any, staff: User, url: str) -> None:
    client = Client(HTTP_HOST=host_of(tenant_a))
    client.force_login(staff)
    response = client.get(f"{url}?{YEAR}")
    assert response.status_code == 404
    assert b"125.83" not in response.content


@pytest.mark.usefixtures("story")
def test_signing_in_on_the_public_site_comes_back_to_finance(staff: User) -> None:
    client = Client(HTTP_HOST="localhost")
    to_signin = client.get("/finance/?plan=team")
    assert to_signin.status_code == 302
    page = client.get(to_signin["Location"])
    assert page.status_code == 200
    assert b'name="next" value="/finance/?plan=team"' in page.content
    done = client.post("/signin/", {"email": staff.email, "password": TEST_PASSWORD, "next": "/finance/?plan=team"})
    assert done.status_code == 302
    assert done["Location"] == "/finance/?plan=team"
    assert client.get(done["Location"]).status_code == 200


@pytest.mark.parametrize("target", ["https://evil.test/", "//evil.test/finance/", "/\\evil.test"])
def test_sign_in_never_redirects_off_the_host(staff: User, target: str) -> None:
    client = Client(HTTP_HOST="localhost")
    done = client.post("/signin/", {"email": staff.email, "password": TEST_PASSWORD, "next": target})
    assert done.status_code == 302
    assert done["Location"] == "/organizations/"


# --- What it shows --------------------------------------------------------------------------------


def _text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.mark.usefixtures("story")
def test_dashboard_shows_the_figures_and_the_charts(staff_client: Client) -> None:
    response = staff_client.get(f"/finance/?{YEAR}")
    html = _text(response)
    assert response.status_code == 200
    assert "as of 2026-01-01 00:00 UTC" in html
    assert 'data-figure="active">3<' in html
    assert 'data-figure="trialing">1<' in html
    assert 'data-figure="past_due">1<' in html
    usd = html[html.index('data-currency="USD"') : html.index('data-currency="EUR"')]
    assert 'data-figure="mrr">125.83 USD<' in usd
    assert 'data-figure="arr">1,509.96 USD<' in usd
    assert 'data-figure="past_due_mrr">40.83 USD<' in usd
    assert "490.00 USD owed on their open invoices" in usd
    assert 'data-figure="open">2 · 526.00 USD<' in usd
    assert 'data-figure="overdue">1 · 490.00 USD<' in usd
    assert 'data-figure="failed">2 · 502.00 USD<' in usd
    assert 'data-figure="refunds">1 · 10.00 USD<' in usd
    eur = html[html.index('data-currency="EUR"') :]
    assert 'data-figure="mrr">10.00 EUR<' in eur
    assert 'data-figure="refunds">1 · 10.00 EUR<' in eur
    # The charts: server-rendered SVG, one per currency, no script anywhere.
    assert html.count('data-chart="mrr"') == 2
    assert "<title>Aug 2025 · team: 48.00 USD</title>" in html
    assert "<title>Jun 2025 · business: 49.00 USD</title>" in html
    assert "Dec 2025 137.83 USD" not in html
    assert "Dec 2025 125.83 USD" in html
    # Nothing inline that a strict Content-Security-Policy would refuse: scripts only from static files.
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None
    assert "style=" not in html
    assert "/static/finance/finance.css" in html
    # Month by month, with the movements.
    usd_table = html[html.index('<table class="fin-months" data-currency="USD">') :]
    aug = re.search(r"<th scope=\"row\">Aug 2025</th>(.*?)</tr>", usd_table)
    assert aug is not None
    # MRR, team, business, enterprise, then new, expansion, contraction, churned, reactivated, net
    cells = re.findall(r"<td>(.*?)</td>", aug.group(1))
    assert cells == ["137.83", "48.00", "49.00", "40.83", "—", "—", "—", "—", "+36.00", "+36.00"]
    jun = re.search(r"<th scope=\"row\">Jun 2025</th>(.*?)</tr>", usd_table)
    assert jun is not None
    assert re.findall(r"<td>(.*?)</td>", jun.group(1)) == [
        "101.83",
        "12.00",
        "49.00",
        "40.83",
        "—",
        "—",
        "-11.00",
        "—",
        "—",
        "-11.00",
    ]
    eur_table = html[html.index('<table class="fin-months" data-currency="EUR">') :]
    may = re.search(r"<th scope=\"row\">May 2025</th>(.*?)</tr>", eur_table)
    assert may is not None
    assert re.findall(r"<td>(.*?)</td>", may.group(1)) == ["10.00", "10.00", "+10.00", "—", "—", "—", "—", "+10.00"]
    assert "INV-BOLT_1" in html
    assert "INV-FJORD_1" in html


@pytest.mark.usefixtures("story")
def test_dashboard_plan_filter(staff_client: Client) -> None:
    html = _text(staff_client.get(f"/finance/?{YEAR}&plan=business"))
    assert 'data-figure="mrr">49.00 USD<' in html
    assert 'data-figure="active">1<' in html
    assert 'data-figure="past_due">0<' in html
    assert "INV-BOLT_1" not in html
    assert '<option value="business" selected>' in html


@pytest.mark.usefixtures("story")
def test_default_range_is_the_last_twelve_months(staff_client: Client) -> None:
    payload = staff_client.get("/finance/api/").json()
    assert len(payload["months"]) == 12
    assert payload["months"][-1]["month"] == payload["filter"]["to"][:7]


# --- CSV exports ----------------------------------------------------------------------------------


def _csv(response: Any) -> list[str]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return response.content.decode().splitlines()


@pytest.mark.usefixtures("story")
def test_invoices_csv_honours_the_filter(staff_client: Client) -> None:
    response = staff_client.get("/finance/invoices.csv?from=2025-01-01&to=2025-06-30&plan=team")
    assert response["Content-Disposition"] == 'attachment; filename="invoices_2025-01-01_2025-06-30_team.csv"'
    assert _csv(response) == [
        "created,tenant,invoice,number,subscription,status,currency,total,amount_paid,amount_remaining,"
        "amount_refunded,attempts,period_start,period_end",
        "2025-05-05,echo,in_echo_1,INV-ECHO_1,sub_echo,paid,eur,10.00,10.00,0.00,10.00,1,2025-05-05,2025-05-05",
        "2025-01-20,cobalt,in_cobalt_1,INV-COBALT_1,sub_cobalt1,paid,usd,12.00,12.00,0.00,0.00,1,2025-01-20,2025-01-20",
    ]
    whole_year = _csv(staff_client.get(f"/finance/invoices.csv?{YEAR}"))
    assert len(whole_year) == 1 + 8  # every 2025 invoice (the void one too), not the 2024 one
    assert "in_acme_old" not in "".join(whole_year)


@pytest.mark.usefixtures("story")
def test_subscriptions_csv_honours_the_filter(staff_client: Client) -> None:
    assert _csv(staff_client.get(f"/finance/subscriptions.csv?{YEAR}&plan=team")) == [
        "tenant,subscription,status,plan,quantity,unit_amount,interval,mrr,currency,started,canceled,trial_end,"
        "current_period_end",
        "cobalt,sub_cobalt1,canceled,team,1,12.00,month,0.00,usd,2025-01-20,2025-04-15,,",
        "cobalt,sub_cobalt2,active,team,3,12.00,month,36.00,usd,2025-08-03,,,",
        "delta,sub_delta,trialing,team,4,12.00,month,0.00,usd,2025-12-01,,,",
        "echo,sub_echo,active,team,1,10.00,month,10.00,eur,2025-05-05,,,",
        "fjord,sub_fjord,canceled,team,1,12.00,month,0.00,usd,2024-06-01,2025-09-09,,",
    ]
    q4 = _csv(staff_client.get("/finance/subscriptions.csv?from=2025-10-01&to=2025-12-31"))
    assert [line.split(",")[1] for line in q4[1:]] == ["sub_acme", "sub_bolt", "sub_cobalt2", "sub_delta", "sub_echo"]
    assert "bolt,sub_bolt,past_due,enterprise,1,490.00,year,40.83,usd,2025-02-01,,," in q4


@pytest.mark.usefixtures("story")
def test_movements_csv_honours_the_filter(staff_client: Client) -> None:
    assert _csv(staff_client.get(f"/finance/movements.csv?{YEAR}&plan=business")) == [
        "month,tenant,kind,amount,mrr_before,mrr_after,currency",
        "2025-06,acme,new,49.00,0.00,49.00,usd",
    ]
    assert _csv(staff_client.get("/finance/movements.csv?from=2025-04-01&to=2025-06-30")) == [
        "month,tenant,kind,amount,mrr_before,mrr_after,currency",
        "2025-04,cobalt,churned,-12.00,12.00,0.00,usd",
        "2025-05,echo,new,10.00,0.00,10.00,eur",
        "2025-06,acme,contraction,-11.00,60.00,49.00,usd",
    ]


# --- Bad filters ----------------------------------------------------------------------------------


BAD = [
    ("from=2025-13-01", "date_invalid", "from"),
    ("to=yesterday", "date_invalid", "to"),
    ("from=2025-06-01&to=2025-05-31", "date_range_invalid", "to"),
    ("from=2019-01-01&to=2025-12-31", "date_range_too_long", None),
    ("from=1900-01-01&to=1900-02-01", "date_invalid", None),
    ("plan=platinum", "plan_invalid", "plan"),
    ("from=2025-01-01%00", "date_invalid", "from"),
]


@pytest.mark.usefixtures("story")
@pytest.mark.parametrize(("query", "code", "field"), BAD)
def test_bad_filters_are_400_with_a_code(staff_client: Client, query: str, code: str, field: Any) -> None:
    api = staff_client.get(f"/finance/api/?{query}")
    assert api.status_code == 400
    error = api.json()["error"]
    assert error["code"] == code
    if field:
        assert field in error["fields"]
    page = staff_client.get(f"/finance/?{query}")
    assert page.status_code == 400
    assert f"<code>{code}</code>" in page.content.decode()
    assert b'data-figure="mrr"' not in page.content
    for csv_url in ("/finance/invoices.csv", "/finance/subscriptions.csv", "/finance/movements.csv"):
        csv = staff_client.get(f"{csv_url}?{query}", HTTP_ACCEPT="application/json")
        assert csv.status_code == 400
        assert csv.json()["error"]["code"] == code
        assert staff_client.get(f"{csv_url}?{query}").status_code == 400  # a browser gets a page


@pytest.mark.usefixtures("story")
def test_dashboard_queries_do_not_grow_with_the_data(staff_client: Client) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.finance.support import apply, invoice, organization

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert staff_client.get(f"/finance/?{YEAR}").status_code == 200
        return len(ctx.captured_queries)

    before = count()
    for n in range(10):
        customer = organization(f"grow{n}")
        apply(customer, "2025-03-03", f"sub_grow{n}", price="team", quantity=2, start="2025-03-03")
        apply(customer, "2025-09-03", f"sub_grow{n}", price="team", status="past_due", quantity=2, start="2025-03-03")
        invoice(customer, f"in_grow{n}", created="2025-09-03", status="open", total=2400, subscription=f"sub_grow{n}")
    assert count() == before
