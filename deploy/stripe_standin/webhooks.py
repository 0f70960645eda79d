"""Signed, ordered, asynchronous webhook delivery (one background thread, a FIFO queue, a few retries)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("deploy.stripe_standin.webhooks")

DEFAULT_RETRY_DELAYS: tuple[float, ...] = (0.2, 0.5, 1.0)


def sign_payload(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """Return a ``Stripe-Signature`` header value: ``t=<unix>,v1=<hex hmac-sha256("<t>." + payload)>``."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode("utf-8"), f"{ts}.".encode() + payload, hashlib.sha256)
    return f"t={ts},v1={mac.hexdigest()}"


def parse_secrets(value: str | Sequence[str] | None) -> list[str]:
    """Accept ``"whsec_a,whsec_b"`` or a list; the first secret signs."""
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [s.strip() for s in items if s and s.strip()]


@dataclass
class Delivery:
    event_id: str
    event_type: str
    body: bytes
    attempts: int = 0
    status: str = "pending"  # pending | delivered | failed | skipped
    response_status: int | None = None
    error: str | None = None
    delivered_at: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "event": self.event_id,
            "type": self.event_type,
            "status": self.status,
            "attempts": self.attempts,
            "response_status": self.response_status,
            "error": self.error,
            "delivered_at": self.delivered_at,
        }


class WebhookDispatcher:
    """Deliver events to one endpoint in creation order without blocking API requests."""

    def __init__(
        self,
        url: str | None,
        secrets: str | Sequence[str] | None,
        *,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        timeout: float = 5.0,
        on_delivered: Callable[[str], None] | None = None,
        max_history: int = 1000,
    ) -> None:
        self.url: str | None = None
        self.secrets: list[str] = []
        self.configure(url, secrets)
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self.on_delivered = on_delivered
        self.max_history = max_history
        self._queue: deque[Delivery] = deque()
        self._history: deque[Delivery] = deque(maxlen=max_history)
        self._cond = threading.Condition()
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- configuration ------------------------------------------------------------------------------
    def configure(self, url: str | None, secrets: str | Sequence[str] | None) -> None:
        if url:
            scheme = urlsplit(url).scheme
            if scheme not in ("http", "https"):
                raise ValueError(f"webhook url must be http(s), got {url!r}")
        self.url = url or None
        self.secrets = parse_secrets(secrets)
        if self.url and not self.secrets:
            self.secrets = ["whsec_standin"]
            log.warning("no webhook secret configured; signing with 'whsec_standin'")

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="standin-webhooks", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread:
            self._thread.join(timeout)
            self._thread = None

    # -- queue --------------------------------------------------------------------------------------
    def enqueue(self, event_id: str, event_type: str, body: bytes) -> None:
        delivery = Delivery(event_id=event_id, event_type=event_type, body=body)
        with self._cond:
            if not self.enabled:
                delivery.status = "skipped"
                self._history.append(delivery)
                return
            self._queue.append(delivery)
            self._history.append(delivery)
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + (1 if self._busy else 0)

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until every queued event has been delivered or given up on. False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def clear(self) -> None:
        with self._cond:
            self._queue.clear()
            self._history.clear()
            self._cond.notify_all()

    def deliveries(self) -> list[dict[str, Any]]:
        with self._cond:
            return [d.summary() for d in self._history]

    # -- worker -------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                delivery = self._queue.popleft()
                self._busy = True
                url, secret = self.url, (self.secrets[0] if self.secrets else "")
            try:
                if url:
                    self._deliver(delivery, url, secret)
                else:
                    delivery.status = "skipped"
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
            if delivery.status == "delivered" and self.on_delivered:
                try:
                    self.on_delivered(delivery.event_id)
                except Exception:  # pragma: no cover - bookkeeping only
                    log.exception("on_delivered callback failed")

    def _deliver(self, delivery: Delivery, url: str, secret: str) -> None:
        delays = (0.0, *self.retry_delays)
        for delay in delays:
            if delay:
                with self._cond:
                    if self._stopping:
                        break
                    self._cond.wait(delay)
                    if self._stopping:
                        break
            delivery.attempts += 1
            ok = self._attempt(delivery, url, secret)
            if ok:
                delivery.status = "delivered"
                delivery.delivered_at = time.time()
                return
        delivery.status = "failed"
        log.warning(
            "webhook %s (%s) not delivered after %d attempts: %s",
            delivery.event_id,
            delivery.event_type,
            delivery.attempts,
            delivery.error or delivery.response_status,
        )

    def _attempt(self, delivery: Delivery, url: str, secret: str) -> bool:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": sign_payload(delivery.body, secret),
        }
        request = urllib.request.Request(url, data=delivery.body, headers=headers, method="POST")  # noqa: S310
        status: int | None = None
        error: str | None = None
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:  # noqa: S310
                resp.read()
                status = resp.status
        except urllib.error.HTTPError as exc:
            status = exc.code
            error = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            error = str(getattr(exc, "reason", exc))
        delivery.response_status = status
        delivery.error = error
        delivery.history.append({"at": time.time(), "status": status, "error": error})
        return status is not None and HTTPStatus.OK <= status < HTTPStatus.MULTIPLE_CHOICES
