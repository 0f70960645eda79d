"""``python -m deploy.stripe_standin``: run the Stripe stand-in in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType

from deploy.stripe_standin.constants import API_VERSION
from deploy.stripe_standin.server import StandinServer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.stripe_standin", description="Local Stripe stand-in server."
    )
    parser.add_argument("--host", default=os.environ.get("STRIPE_STANDIN_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("STRIPE_STANDIN_PORT", "12111")))
    parser.add_argument(
        "--webhook-url",
        default=os.environ.get("STRIPE_WEBHOOK_URL") or None,
        help="where events are POSTed (default: $STRIPE_WEBHOOK_URL; unset = record only)",
    )
    parser.add_argument(
        "--webhook-secret",
        default=os.environ.get("STRIPE_WEBHOOK_SECRET") or None,
        help="signing secret(s), comma-separated; the first signs (default: $STRIPE_WEBHOOK_SECRET)",
    )
    parser.add_argument(
        "--public-url",
        default=os.environ.get("STRIPE_STANDIN_PUBLIC_URL") or None,
        help="base URL for hosted page links (default: http://127.0.0.1:PORT)",
    )
    parser.add_argument(
        "--state-file",
        default=os.environ.get("STRIPE_STANDIN_STATE_FILE") or None,
        help="persist state as JSON here after every write",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s standin %(levelname)s %(message)s")
    server = StandinServer(
        host=args.host,
        port=args.port,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        state_file=args.state_file,
        public_url=args.public_url,
        log_requests=not args.quiet,
    )
    stop = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    server.start()
    logging.info(
        "Stripe stand-in listening on %s (api_version %s, webhooks -> %s, state %s)",
        server.url,
        API_VERSION,
        args.webhook_url or "recorded only",
        args.state_file or "in memory",
    )
    while not stop.wait(0.5):
        pass
    logging.info("stopping (pending webhooks: %d)", server.dispatcher.pending())
    server.dispatcher.flush(2.0)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
