"""A small local receiver for developers: prints every verified event.

    python -m tenant_apps.outgoing.receiver --port 8899 --secret whsec_...

Register http://127.0.0.1:8899/ as an endpoint (plain http and loopback are allowed by the local
settings only). `verify` below is the snippet docs/api.md shows; it needs nothing but the stdlib.
Also used by the tests and the benchmark (`Receiver` runs it in a thread).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


# --- the documented snippet (docs/api.md "Verifying a signature") ---------------------------------
def verify(body: bytes, header: str, secret: str, tolerance: int = 300) -> dict:
    """Return the event if `header` (Tenantry-Signature) signs `body` with `secret`, else raise."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    timestamp = int(next(v for k, v in parts if k == "t"))
    if abs(time.time() - timestamp) > tolerance:
        raise ValueError("timestamp outside the tolerance")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(k == "v1" and hmac.compare_digest(v, expected) for k, v in parts):
        raise ValueError("no matching v1 signature")
    return json.loads(body)


# ---------------------------------------------------------------------------------------------------


class Receiver:
    """An HTTP server in a thread on a free port. `behaviour(event_or_none, headers)` -> status code;
    every request is recorded (verified event or error) in `received`."""

    def __init__(
        self,
        *,
        secret: str = "",
        port: int = 0,
        behaviour: Callable[[dict | None, dict[str, str]], int] | None = None,
        on_request: Callable[[], None] | None = None,
        echo: bool = False,
    ) -> None:
        self.secret = secret
        self.behaviour = behaviour
        self.on_request = on_request
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.echo = echo
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k: v for k, v in self.headers.items()}
                record: dict[str, Any] = {"at": time.time(), "headers": headers, "body": body}
                event = None
                try:
                    event = verify(body, headers.get("Tenantry-Signature", ""), outer.secret)
                    record["event"] = event
                except Exception as exc:
                    record["error"] = f"{type(exc).__name__}: {exc}"
                with outer.lock:
                    outer.received.append(record)
                if outer.on_request is not None:
                    outer.on_request()
                status = 400 if event is None else 200
                if outer.behaviour is not None:
                    status = outer.behaviour(event, headers)
                if outer.echo:
                    shown = (
                        f"{event['type']} {event['id']} {json.dumps(event['data']['object'])}"
                        if event
                        else record["error"]
                    )
                    print(f"{'OK ' if event else 'BAD'} {shown}", flush=True)
                reply = (
                    b'{"received": true}'
                    if HTTPStatus.OK <= status < HTTPStatus.MULTIPLE_CHOICES
                    else b'{"received": false}'
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[dict]:
        with self.lock:
            return [r["event"] for r in self.received if "event" in r]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print verified Tenantry webhook events.")
    parser.add_argument("--port", type=int, default=8899)
    parser.add_argument("--secret", required=True, help="the endpoint's signing secret (whsec_...)")
    args = parser.parse_args(argv)
    receiver = Receiver(secret=args.secret, port=args.port, echo=True)
    print(f"Listening on {receiver.url} (Ctrl-C stops)", flush=True)
    try:
        receiver.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        receiver.server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
