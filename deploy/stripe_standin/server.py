"""HTTP front end: ``StandinServer`` (ThreadingHTTPServer in a background thread).

Routing by prefix:

* ``/v1/...``         Stripe API (``Authorization: Bearer sk_...`` required), JSON out, form bodies in.
* ``/checkout/...``   hosted Checkout page + its form actions.
* ``/portal/...``     hosted Customer Portal page + its form actions.
* ``/invoice/...``    hosted invoice page, PDF, pay action.
* ``/_standin/...``   stand-in controls (health, reset, time control, refunds, webhook flush, meter events).

Each request runs under the store's single lock as a transaction: a request that fails part-way is
rolled back and its events are never sent. Events of successful requests are queued for delivery in
creation order; the delivery thread signs and POSTs them without blocking the request.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import marshal
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import urlsplit

from deploy.stripe_standin import pages, routes
from deploy.stripe_standin.constants import API_VERSION, IDEMPOTENCY_TTL
from deploy.stripe_standin.engine import Engine
from deploy.stripe_standin.errors import StripeError
from deploy.stripe_standin.forms import parse_form
from deploy.stripe_standin.params import check_params
from deploy.stripe_standin.store import Store, random_token
from deploy.stripe_standin.util import Obj, expand_paths, get_int, get_str
from deploy.stripe_standin.webhooks import DEFAULT_RETRY_DELAYS, WebhookDispatcher

_SHORT_KEY = 8  # keys this short are masked entirely

log = logging.getLogger("deploy.stripe_standin")

T = TypeVar("T")

_NO_REQUEST: Obj = {"id": None, "idempotency_key": None}


class Response:
    def __init__(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(payload, indent=2).encode("utf-8"), "application/json", headers)


def html_response(status: int, html: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, html.encode("utf-8"), "text/html; charset=utf-8", headers)


def redirect(location: str) -> Response:
    return Response(303, b"", "text/plain", {"Location": location})


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    app: StandinServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "StripeStandin/1.0"
    disable_nagle_algorithm = True  # headers and body go out as separate writes; avoid 40 ms delayed-ACK stalls
    server: _HTTPServer

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.app.log_requests:
            log.info("%s - %s", self.address_string(), format % args)

    def _dispatch(self, method: str) -> None:
        app = self.server.app
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            response = app.handle(method, self.path, dict(self.headers.items()), raw)
        except Exception:
            log.exception("stand-in crashed on %s %s", method, self.path)
            response = json_response(
                500,
                {"error": {"type": "api_error", "message": "The Stripe stand-in hit an internal error."}},
                {"Stripe-Should-Retry": "false"},
            )
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(response.body)


class StandinServer:
    """A local Stripe stand-in. ``port=0`` picks a free port; :attr:`url` is the API base address.

    ``webhook_secret`` may be a list or a comma-separated string; the first secret signs.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | Sequence[str] | None = None,
        state_file: str | None = None,
        public_url: str | None = None,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        log_requests: bool = False,
    ) -> None:
        self.log_requests = log_requests
        self.store = Store(state_file)
        self.dispatcher = WebhookDispatcher(
            webhook_url, webhook_secret, retry_delays=retry_delays, on_delivered=self._on_delivered
        )
        self.httpd = _HTTPServer((host, port), _Handler)
        self.httpd.app = self
        self.host = host
        self.port: int = self.httpd.server_address[1]
        display_host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        self.url = f"http://{display_host}:{self.port}"
        self.public_url = (public_url or self.url).rstrip("/")
        self.engine = Engine(
            self.store,
            public_url=self.public_url,
            on_event=self._collect_event,
            webhooks_enabled=lambda: self.dispatcher.enabled,
        )
        self._buffer: list[Obj] | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> StandinServer:
        self.dispatcher.start()
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="standin-http", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.dispatcher.stop()
        if self._thread:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- Python-side controls (same as the /_standin endpoints) ---------------------------------------
    def flush_webhooks(self, timeout: float = 10.0) -> bool:
        """Wait until every queued webhook was delivered (or given up on). False on timeout."""
        return self.dispatcher.flush(timeout)

    def reset(self) -> None:
        """Forget every object, event, idempotency key and queued webhook."""
        with self.store.lock:
            self.store.reset()
            self.dispatcher.clear()
            self.store.save()

    def configure_webhooks(self, url: str | None, secret: str | Sequence[str] | None) -> None:
        self.dispatcher.configure(url, secret)

    def advance(self, subscription: str, action: str) -> Obj:
        return self.transact(lambda: self.engine.advance(subscription, action))

    def refund(self, charge: str, amount: int | None = None) -> Obj:
        return self.transact(lambda: self.engine.refund_charge(charge, amount))

    def deliveries(self) -> list[dict[str, Any]]:
        return self.dispatcher.deliveries()

    def meter_events(self, customer: str | None = None, event_name: str | None = None) -> list[Obj]:
        with self.store.lock:
            return list(self.engine.meter_events_for(customer, event_name)["data"])

    def events(self) -> list[Obj]:
        """All events, oldest first."""
        with self.store.lock:
            return [self.engine.render("event", e) for e in self.store.all("event")]

    # -- transactions ---------------------------------------------------------------------------------
    def transact(self, fn: Callable[[], T], *, request: Obj | None = None, mutating: bool = True) -> T:
        with self.store.lock:
            snapshot = marshal.dumps(self.store.snapshot()) if mutating else None
            self._buffer = []
            self.engine.request = dict(request or _NO_REQUEST)
            try:
                result = fn()
            except BaseException:
                if snapshot is not None:
                    self.store.restore(marshal.loads(snapshot))  # noqa: S302 - our own bytes
                raise
            finally:
                events, self._buffer = self._buffer, None
                self.engine.request = dict(_NO_REQUEST)
            if snapshot is not None or events:
                for event in events:
                    self.dispatcher.enqueue(event["id"], event["type"], self.engine.event_body(event))
                self.store.save()
            return result

    def _collect_event(self, event: Obj) -> None:
        if self._buffer is not None:
            self._buffer.append(event)
        else:  # pragma: no cover - engine used outside a transaction
            self.dispatcher.enqueue(event["id"], event["type"], self.engine.event_body(event))

    def _on_delivered(self, event_id: str) -> None:
        self.engine.mark_delivered(event_id)

    # -- request handling -----------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Response:
        parts = urlsplit(target)
        path = parts.path.rstrip("/") or "/"
        headers = {k.lower(): v for k, v in headers.items()}
        if path.startswith("/v1/"):
            return self._api(method, path, parts.query, headers, raw)
        params = self._params(method, parts.query, headers, raw)
        if path.startswith("/_standin/"):
            return self._standin(method, path, params)
        if path.startswith(("/checkout/", "/portal/", "/invoice/")):
            return self._pages(method, path, params)
        if path == "/" and method == "GET":
            return json_response(200, {"service": "stripe-standin", "api_version": API_VERSION})
        return json_response(404, _unrecognized(method, path))

    def _params(self, method: str, query: str, headers: dict[str, str], raw: bytes) -> Obj:
        params = parse_form(query)
        if method == "POST" and raw:
            ctype = headers.get("content-type", "")
            if ctype.startswith("application/json"):
                try:
                    body = json.loads(raw.decode("utf-8"))
                except ValueError:
                    raise StripeError("Invalid JSON body.") from None
                if isinstance(body, dict):
                    params.update(body)
            else:
                params.update(parse_form(raw.decode("utf-8")))
        return params

    # -- /v1 ------------------------------------------------------------------------------------------
    def _api(self, method: str, path: str, query: str, headers: dict[str, str], raw: bytes) -> Response:
        request_id = f"req_{random_token(14)}"
        base = {"Request-Id": request_id, "Stripe-Version": headers.get("stripe-version") or API_VERSION}
        api_key = _api_key(headers.get("authorization", ""))
        if api_key is None or not api_key.startswith(("sk_", "rk_")):
            if not api_key:
                message = (
                    "You did not provide an API key. You need to provide your API key in the Authorization "
                    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
                )
            else:
                message = f"Invalid API Key provided: {_mask(api_key)}"
            return json_response(401, {"error": {"message": message, "type": "invalid_request_error"}}, base)
        try:
            params = self._params(method, query, headers, raw)
        except StripeError as err:
            return json_response(err.status, err.body(request_id), base)
        found = routes.match(method, path)
        if found is None:
            return json_response(404, _unrecognized(method, path), base)
        route, args = found
        idem_key = headers.get("idempotency-key") if method == "POST" else None
        if idem_key:
            base["Idempotency-Key"] = idem_key
        fingerprint = json.dumps([method, path, params], sort_keys=True)
        with self.store.lock:
            if idem_key:
                replay = self._idempotent_replay(api_key, idem_key, fingerprint, base)
                if replay is not None:
                    return replay
            try:
                ignored = check_params(route.endpoint, params)
                expand = expand_paths(params)
                result = self.transact(
                    lambda: self.engine.expand(route.handler(self.engine, params, args), expand),
                    request={"id": request_id, "idempotency_key": idem_key} if method != "GET" else None,
                    mutating=method != "GET",
                )
            except StripeError as err:
                return json_response(err.status, err.body(request_id), {**base, **err.headers})
            if ignored:
                base["Standin-Ignored-Params"] = ",".join(ignored)
                log.warning("stand-in ignored parameters on %s %s: %s", method, path, ", ".join(ignored))
            body = json.dumps(result, indent=2).encode("utf-8")
            if idem_key:
                self._prune_idempotency()
                self.store.idempotency[f"{api_key}:{idem_key}"] = {
                    "fingerprint": fingerprint,
                    "status": 200,
                    "body": body.decode("utf-8"),
                    "request_id": request_id,
                    "created": time.time(),
                }
                self.store.save()
        return Response(200, body, "application/json", base)

    def _idempotent_replay(self, api_key: str, key: str, fingerprint: str, base: dict[str, str]) -> Response | None:
        self._prune_idempotency()
        record = self.store.idempotency.get(f"{api_key}:{key}")
        if record is None:
            return None
        if record["fingerprint"] != fingerprint:
            err = StripeError(
                "Keys for idempotent requests can only be used with the same parameters they were first used "
                f"with. Try using a key other than '{key}' if you meant to execute a different request.",
                type="idempotency_error",
            )
            return json_response(400, err.body(base["Request-Id"]), base)
        headers = {**base, "Idempotent-Replayed": "true", "Original-Request": record["request_id"]}
        return Response(record["status"], record["body"].encode("utf-8"), "application/json", headers)

    def _prune_idempotency(self) -> None:
        cutoff = time.time() - IDEMPOTENCY_TTL
        stale = [k for k, v in self.store.idempotency.items() if v["created"] < cutoff]
        for key in stale:
            del self.store.idempotency[key]

    # -- /_standin --------------------------------------------------------------------------------------
    def _standin(self, method: str, path: str, params: Obj) -> Response:
        try:
            return self._standin_inner(method, path, params)
        except StripeError as err:
            return json_response(err.status, err.body())

    def _standin_inner(self, method: str, path: str, params: Obj) -> Response:
        action = path[len("/_standin/") :]
        if action == "health" and method == "GET":
            with self.store.lock:
                counts = self.store.counts()
            return json_response(
                200,
                {
                    "status": "ok",
                    "api_version": API_VERSION,
                    "url": self.url,
                    "public_url": self.public_url,
                    "webhook_url": self.dispatcher.url,
                    "pending_webhooks": self.dispatcher.pending(),
                    "objects": counts,
                },
            )
        if action == "routes" and method == "GET":
            return json_response(200, {"routes": routes.describe()})
        if action == "reset" and method == "POST":
            self.reset()
            return json_response(200, {"reset": True})
        if action == "advance" and method == "POST":
            sub_id = get_str(params, "subscription", required=True)
            act = get_str(params, "action", required=True)
            assert sub_id is not None
            assert act is not None
            return json_response(200, self.advance(sub_id, act))
        if action == "refund" and method == "POST":
            ch_id = get_str(params, "charge", required=True)
            assert ch_id is not None
            return json_response(200, self.refund(ch_id, get_int(params, "amount", minimum=1)))
        if action == "meter_events" and method == "GET":
            with self.store.lock:
                data = self.engine.meter_events_for(get_str(params, "customer"), get_str(params, "event_name"))
            return json_response(200, data)
        if action == "events" and method == "GET":
            return json_response(200, {"object": "list", "data": self.events()})
        if action == "webhooks" and method == "GET":
            return json_response(
                200,
                {
                    "url": self.dispatcher.url,
                    "pending": self.dispatcher.pending(),
                    "deliveries": self.dispatcher.deliveries(),
                },
            )
        if action == "webhooks/flush" and method == "POST":
            timeout = float(params.get("timeout") or 10)
            flushed = self.flush_webhooks(timeout)
            return json_response(200 if flushed else 504, {"flushed": flushed, "pending": self.dispatcher.pending()})
        if action == "webhooks/resend" and method == "POST":
            evt_id = get_str(params, "event", required=True)
            assert evt_id is not None
            with self.store.lock:
                event = self.engine.get("event", evt_id)
                self.dispatcher.enqueue(event["id"], event["type"], self.engine.event_body(event))
            return json_response(200, {"resent": evt_id})
        if action == "webhooks/config" and method == "POST":
            try:
                self.configure_webhooks(get_str(params, "url"), get_str(params, "secret"))
            except ValueError as exc:
                raise StripeError(str(exc), param="url") from None
            return json_response(200, {"url": self.dispatcher.url})
        return json_response(404, _unrecognized(method, path))

    # -- hosted pages -----------------------------------------------------------------------------------
    def _pages(self, method: str, path: str, params: Obj) -> Response:
        segments = path.strip("/").split("/")
        kind, obj_id, verb = segments[0], segments[1] if len(segments) > 1 else "", "/".join(segments[2:])
        try:
            if kind == "checkout":
                return self._checkout_page(method, obj_id, verb, params)
            if kind == "portal":
                return self._portal_page(method, obj_id, verb, params)
            return self._invoice_page(method, obj_id, verb)
        except StripeError as err:
            return html_response(err.status, pages.message_page("Something went wrong", err.message))

    def _checkout_page(self, method: str, cs_id: str, verb: str, params: Obj) -> Response:
        if method == "GET" and not verb:
            session = self.transact(lambda: self.engine.checkout_session(cs_id))
            with self.store.lock:
                return html_response(200, pages.checkout_page(self.engine, session))
        if method == "POST" and verb == "complete":
            email, name = get_str(params, "email"), get_str(params, "name")
            session = self.transact(lambda: self.engine.checkout_complete(cs_id, email, name))
            return redirect(session["success_url"].replace("{CHECKOUT_SESSION_ID}", cs_id))
        if method == "POST" and verb == "fail":
            with self.store.lock:
                session = self.engine.checkout_session(cs_id)
                cancel_url = session.get("cancel_url")
            if cancel_url:
                return redirect(cancel_url.replace("{CHECKOUT_SESSION_ID}", cs_id))
            return html_response(
                402, pages.message_page("Payment failed", "Your card was declined (simulated). No cancel_url was set.")
            )
        return html_response(404, pages.message_page("Not found", f"No page at {method} /checkout/{cs_id}/{verb}"))

    def _portal_page(self, method: str, bps_id: str, verb: str, params: Obj) -> Response:
        with self.store.lock:
            session = self.engine.get("billing_portal.session", bps_id)
            back = session.get("return_url") or f"/portal/{bps_id}"
            if method == "GET" and not verb:
                return html_response(200, pages.portal_page(self.engine, session))
        if method != "POST":
            return html_response(404, pages.message_page("Not found", f"No page at {method} /portal/{bps_id}/{verb}"))
        sub_id = get_str(params, "subscription", required=True)
        assert sub_id is not None
        if verb == "update":
            price = get_str(params, "price")
            quantity = get_int(params, "quantity", minimum=1)
            self.transact(lambda: self.engine.portal_change_plan(bps_id, sub_id, price, quantity))
            return redirect(back)
        if verb == "cancel":
            when = get_str(params, "when") or "period_end"
            if when not in ("period_end", "now"):
                raise StripeError("when must be period_end or now")
            self.transact(lambda: self.engine.portal_cancel(bps_id, sub_id, when))
            return redirect(back)
        if verb == "reactivate":
            self.transact(lambda: self.engine.portal_reactivate(bps_id, sub_id))
            return redirect(back)
        return html_response(404, pages.message_page("Not found", f"No page at POST /portal/{bps_id}/{verb}"))

    def _invoice_page(self, method: str, in_id: str, verb: str) -> Response:
        if method == "GET" and verb in ("", "pdf"):
            with self.store.lock:
                invoice = self.engine.get("invoice", in_id)
                if verb == "pdf":
                    return Response(
                        200,
                        pages.invoice_pdf(invoice),
                        "application/pdf",
                        {"Content-Disposition": f"inline; filename={invoice['number'] or in_id}.pdf"},
                    )
                return html_response(200, pages.invoice_page(self.engine, invoice))
        if method == "POST" and verb == "pay":
            self.transact(lambda: self.engine.invoice_pay(in_id))
            return redirect(f"/invoice/{in_id}")
        return html_response(404, pages.message_page("Not found", f"No page at {method} /invoice/{in_id}/{verb}"))


def _api_key(authorization: str) -> str | None:
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return None


def _mask(key: str) -> str:
    if len(key) <= _SHORT_KEY:
        return "*" * len(key)
    return f"{key[:3]}{'*' * 12}{key[-4:]}"


def _unrecognized(method: str, path: str) -> Obj:
    return {
        "error": {
            "message": f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or "
            "we can help at https://support.stripe.com/.",
            "type": "invalid_request_error",
        }
    }


__all__ = ["API_VERSION", "Response", "StandinServer"]
