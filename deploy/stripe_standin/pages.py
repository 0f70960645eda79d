"""Hosted pages: Checkout, Customer Portal, hosted invoice (HTML) and a minimal invoice PDF."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from deploy.stripe_standin.util import Obj, fmt_date, money

if TYPE_CHECKING:
    from deploy.stripe_standin.engine import Engine

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:760px;margin:2rem auto;
padding:0 1rem;color:#1a1f36;background:#f6f9fc}
.card{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:1.25rem 1.5rem;
margin-bottom:1rem}
h1{font-size:1.3rem}h2{font-size:1.05rem;margin-top:0}
table{width:100%;border-collapse:collapse}td,th{padding:.35rem .25rem;border-bottom:1px solid #e3e8ee;
text-align:left}
.num{text-align:right}.muted{color:#697386;font-size:.9rem}
.banner{background:#fff3cd;border:1px solid #ffe08a;padding:.5rem .75rem;border-radius:6px;
font-size:.85rem;margin-bottom:1rem}
button{font-size:1rem;padding:.5rem 1.1rem;border-radius:6px;border:1px solid #635bff;background:#635bff;
color:#fff;cursor:pointer;margin-right:.5rem}
button.secondary{background:#fff;color:#635bff}button.danger{background:#df1b41;border-color:#df1b41}
form{display:inline-block;margin:.25rem 0}select,input{font-size:1rem;padding:.3rem}
"""


def page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<div class=banner>Stripe stand-in (local test mode) — no real payments are made.</div>"
        f"{body}</body></html>"
    )


def message_page(title: str, message: str) -> str:
    return page(title, f"<div class=card><h1>{escape(title)}</h1><p>{escape(message)}</p></div>")


def _price_label(engine: Engine, price: Obj) -> str:
    rec = price.get("recurring") or {}
    count = rec.get("interval_count", 1)
    interval = rec.get("interval", "")
    every = interval if count == 1 else f"{count} {interval}s"
    product = engine.store.get("product", price["product"])
    name = product["name"] if product else price["product"]
    if rec.get("usage_type") == "metered":
        return f"{name} — {money(price['unit_amount'], price['currency'])} per unit / {every} (metered)"
    nick = f" ({price['nickname']})" if price.get("nickname") else ""
    return f"{name}{nick} — {money(price['unit_amount'], price['currency'])} / {every}"


# -- checkout -----------------------------------------------------------------------------------------
def checkout_page(engine: Engine, session: Obj) -> str:
    cs_id = escape(session["id"])
    rows = []
    for row in session["_line_items"]:
        price = engine.store.get("price", row["price"])
        if price is None:
            continue
        qty = row["quantity"]
        amount = None if qty is None else int(price["unit_amount"] or 0) * qty
        rows.append(
            f"<tr><td>{escape(_price_label(engine, price))}</td><td class=num>{'—' if qty is None else qty}</td>"
            f"<td class=num>{escape(money(amount, price['currency']))}</td></tr>"
        )
    data = session["_subscription_data"]
    trial = ""
    if data.get("trial_period_days"):
        trial = (
            f"<p><strong>{int(data['trial_period_days'])}-day free trial</strong> — due today: "
            + escape(money(0, session["currency"]))
            + "</p>"
        )
    customer_line = ""
    if session["customer"]:
        cus = engine.store.get("customer", session["customer"]) or {}
        customer_line = f"<p class=muted>Customer: {escape(cus.get('email') or session['customer'])}</p>"
    email_input = ""
    if not session["customer"]:
        default = escape(session.get("customer_email") or "customer@example.com")
        email_input = f"<p><label>Email <input type=email name=email value='{default}'></label></p>"
    if session["status"] != "open":
        actions = f"<p>This Checkout Session is <strong>{escape(session['status'])}</strong>.</p>"
    else:
        actions = (
            f"<form method=post action='/checkout/{cs_id}/complete'>{email_input}"
            "<button type=submit name=action value=pay>Pay</button></form>"
            f"<form method=post action='/checkout/{cs_id}/fail'>"
            "<button type=submit class='secondary' name=action value=fail>Fail payment</button></form>"
        )
    body = (
        f"<div class=card><h1>Subscribe</h1>{customer_line}"
        "<table><tr><th>Plan</th><th class=num>Qty</th><th class=num>Amount</th></tr>"
        f"{''.join(rows)}"
        f"<tr><th colspan=2>Total per period</th><th class=num>"
        f"{escape(money(session['amount_subtotal'], session['currency']))}</th></tr></table>"
        f"{trial}<p class=muted>Card: 4242 4242 4242 4242 (simulated)</p>{actions}</div>"
        f"<p class=muted>Session {cs_id}</p>"
    )
    return page("Checkout", body)


# -- customer portal ----------------------------------------------------------------------------------
def portal_page(engine: Engine, session: Obj, notice: str | None = None) -> str:
    bps_id = escape(session["id"])
    cus = engine.store.get("customer", session["customer"]) or {}
    subs = [
        s
        for s in engine.store.all("subscription")
        if s["customer"] == session["customer"] and s["status"] not in ("canceled", "incomplete_expired")
    ]
    prices = [
        p
        for p in engine.store.all("price")
        if p["active"] and p["type"] == "recurring" and (p.get("recurring") or {}).get("usage_type") != "metered"
    ]
    cards = []
    for sub in subs:
        items = engine._sub_items(sub["id"])
        if not items:
            continue
        item = items[0]
        current = engine.store.get("price", item["price"])
        sub_id = escape(sub["id"])
        same_currency = [p for p in prices if current is None or p["currency"] == current["currency"]]
        options = "".join(
            f"<option value='{escape(p['id'])}'{' selected' if current and p['id'] == current['id'] else ''}>"
            f"{escape(_price_label(engine, p))}</option>"
            for p in same_currency
        )
        state = escape(sub["status"])
        ends = ""
        if sub["cancel_at_period_end"]:
            ends = f" — cancels on {fmt_date(item['current_period_end'])}"
        elif sub["status"] == "trialing" and sub.get("trial_end"):
            ends = f" — trial ends {fmt_date(sub['trial_end'])}"
        else:
            ends = f" — renews {fmt_date(item['current_period_end'])}"
        qty_input = ""
        if item["quantity"] is not None:
            qty_input = (
                f"<label>Quantity <input type=number min=1 name=quantity value='{int(item['quantity'])}'></label>"
            )
        reactivate = ""
        if sub["cancel_at_period_end"]:
            reactivate = (
                f"<form method=post action='/portal/{bps_id}/reactivate'>"
                f"<input type=hidden name=subscription value='{sub_id}'>"
                "<button type=submit>Don't cancel</button></form>"
            )
        cancel = (
            f"<form method=post action='/portal/{bps_id}/cancel'>"
            f"<input type=hidden name=subscription value='{sub_id}'>"
            "<select name=when><option value=period_end>At period end</option>"
            "<option value=now>Immediately</option></select> "
            "<button type=submit class=danger>Cancel subscription</button></form>"
        )
        label = escape(_price_label(engine, current)) if current else escape(item["price"])
        cards.append(
            f"<div class=card><h2>{label}</h2>"
            f"<p class=muted>{sub_id} · status <strong>{state}</strong>{escape(ends)}"
            f"{' · quantity ' + str(item['quantity']) if item['quantity'] is not None else ''}</p>"
            f"<form method=post action='/portal/{bps_id}/update'>"
            f"<input type=hidden name=subscription value='{sub_id}'>"
            f"<label>Plan <select name=price>{options}</select></label> {qty_input} "
            "<button type=submit>Update plan</button></form><br>"
            f"{reactivate}{cancel}</div>"
        )
    if not cards:
        cards.append("<div class=card><p>No active subscriptions.</p></div>")
    invoices = [
        i for i in engine.store.all("invoice") if i["customer"] == session["customer"] and i["status"] != "draft"
    ]
    inv_rows = "".join(
        f"<tr><td><a href='/invoice/{escape(i['id'])}'>{escape(i['number'] or i['id'])}</a></td>"
        f"<td>{fmt_date(i['created'])}</td><td>{escape(i['status'])}</td>"
        f"<td class=num>{escape(money(i['total'], i['currency']))}</td></tr>"
        for i in reversed(invoices)
    )
    back = ""
    if session.get("return_url"):
        back = f"<p><a href='{escape(session['return_url'])}'>← Return</a></p>"
    info = f"<div class=banner>{escape(notice)}</div>" if notice else ""
    body = (
        f"<h1>Billing — {escape(cus.get('email') or cus.get('name') or session['customer'])}</h1>{info}{back}"
        f"{''.join(cards)}"
        f"<div class=card><h2>Invoices</h2><table><tr><th>Number</th><th>Date</th><th>Status</th>"
        f"<th class=num>Total</th></tr>{inv_rows}</table></div>"
    )
    return page("Customer portal", body)


# -- invoices -----------------------------------------------------------------------------------------
def invoice_page(_engine: Engine, invoice: Obj) -> str:
    lines = "".join(
        f"<tr><td>{escape(ln['description'] or '')}</td>"
        f"<td class=muted>{fmt_date(ln['period']['start'])} &ndash; {fmt_date(ln['period']['end'])}</td>"
        f"<td class=num>{escape(money(ln['amount'], invoice['currency']))}</td></tr>"
        for ln in invoice["lines"]["data"]
    )
    pay = ""
    if invoice["status"] == "open":
        pay = (
            f"<form method=post action='/invoice/{escape(invoice['id'])}/pay'>"
            "<button type=submit>Pay invoice</button></form>"
        )
    body = (
        f"<div class=card><h1>Invoice {escape(invoice['number'] or invoice['id'])}</h1>"
        f"<p class=muted>Status <strong>{escape(invoice['status'])}</strong> · "
        f"{escape(invoice.get('customer_email') or invoice['customer'])} · created {fmt_date(invoice['created'])}</p>"
        f"<table><tr><th>Description</th><th>Period</th><th class=num>Amount</th></tr>{lines}"
        f"<tr><th colspan=2>Total</th><th class=num>{escape(money(invoice['total'], invoice['currency']))}</th></tr>"
        f"<tr><td colspan=2>Amount paid</td><td class=num>{escape(money(invoice['amount_paid'], invoice['currency']))}"
        f"</td></tr><tr><td colspan=2>Amount remaining</td><td class=num>"
        f"{escape(money(invoice['amount_remaining'], invoice['currency']))}</td></tr></table>{pay}"
        f"<p><a href='/invoice/{escape(invoice['id'])}/pdf'>Download PDF</a></p></div>"
    )
    return page(f"Invoice {invoice['number'] or invoice['id']}", body)


def _pdf_text(text: str) -> str:
    ascii_text = text.encode("ascii", "replace").decode("ascii")
    return ascii_text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def invoice_pdf(invoice: Obj) -> bytes:
    """A one-page PDF built by hand (Helvetica, no dependencies)."""
    cur = invoice["currency"]
    text_lines = [
        f"Invoice {invoice['number'] or invoice['id']}",
        f"Status: {invoice['status']}",
        f"Customer: {invoice.get('customer_email') or invoice['customer']}",
        f"Date: {fmt_date(invoice['created'])}",
        "",
    ]
    for ln in invoice["lines"]["data"]:
        desc = (ln["description"] or "").replace("\u00d7", "x")
        text_lines.append(f"{desc}   {money(ln['amount'], cur)}")
    text_lines += [
        "",
        f"Total: {money(invoice['total'], cur)}",
        f"Amount paid: {money(invoice['amount_paid'], cur)}",
        f"Amount remaining: {money(invoice['amount_remaining'], cur)}",
        "",
        "Generated by the local Stripe stand-in (test mode).",
    ]
    ops = ["BT", "/F1 12 Tf", "14 TL", "56 760 Td"]
    for i, line in enumerate(text_lines):
        ops.append(f"({_pdf_text(line)}) Tj" if i == 0 else f"T* ({_pdf_text(line)}) Tj")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for num, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{num} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
