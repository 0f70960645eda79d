"""In-memory object store with optional JSON persistence, guarded by one re-entrant lock."""

from __future__ import annotations

import json
import os
import secrets
import string
import tempfile
import threading
from pathlib import Path
from typing import Any

COLLECTIONS: tuple[str, ...] = (
    "customer",
    "product",
    "price",
    "subscription",
    "subscription_item",
    "invoice",
    "invoice_payment",
    "charge",
    "refund",
    "checkout.session",
    "billing_portal.session",
    "billing.meter",
    "billing.meter_event",
    "event",
)

_ALPHABET = string.ascii_letters + string.digits


def random_token(length: int = 24) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


class Store:
    """Objects are kept in their stored (unexpanded) Stripe shape; keys starting with ``_`` are private."""

    STATE_VERSION = 1

    def __init__(self, state_file: str | os.PathLike[str] | None = None) -> None:
        self.lock = threading.RLock()
        self.state_file = Path(state_file) if state_file else None
        self.objects: dict[str, dict[str, dict[str, Any]]] = {}
        self.idempotency: dict[str, dict[str, Any]] = {}
        self.meter_identifiers: dict[str, int] = {}
        self.seq = 0
        self.reset()
        if self.state_file and self.state_file.exists():
            self.load()

    # -- basic operations -------------------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self.objects = {name: {} for name in COLLECTIONS}
            self.idempotency = {}
            self.meter_identifiers = {}
            self.seq = 0

    def new_id(self, prefix: str, length: int = 24) -> str:
        while True:
            candidate = f"{prefix}_{random_token(length)}"
            if self.find(candidate) is None:
                return candidate

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def put(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        if "_seq" not in obj:
            obj["_seq"] = self.next_seq()
        self.objects[kind][obj["id"]] = obj
        return obj

    def get(self, kind: str, obj_id: str) -> dict[str, Any] | None:
        return self.objects[kind].get(obj_id)

    def delete(self, kind: str, obj_id: str) -> None:
        self.objects[kind].pop(obj_id, None)

    def all(self, kind: str) -> list[dict[str, Any]]:
        """Oldest first (insertion order)."""
        return sorted(self.objects[kind].values(), key=lambda o: o["_seq"])

    def find(self, obj_id: str) -> tuple[str, dict[str, Any]] | None:
        for kind, table in self.objects.items():
            obj = table.get(obj_id)
            if obj is not None:
                return kind, obj
        return None

    # -- persistence --------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "version": self.STATE_VERSION,
            "seq": self.seq,
            "objects": self.objects,
            "idempotency": self.idempotency,
            "meter_identifiers": self.meter_identifiers,
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Put back a :meth:`snapshot` (used to roll back a request that failed half-way)."""
        with self.lock:
            self.objects = snapshot["objects"]
            self.idempotency = snapshot["idempotency"]
            self.meter_identifiers = snapshot["meter_identifiers"]
            self.seq = snapshot["seq"]

    def counts(self) -> dict[str, int]:
        return {kind: len(table) for kind, table in self.objects.items()}

    def save(self) -> None:
        if not self.state_file:
            return
        with self.lock:
            data = json.dumps(self.snapshot(), separators=(",", ":"))
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".standin-", dir=str(self.state_file.parent))
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(data)
                os.replace(tmp, self.state_file)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

    def load(self) -> None:
        assert self.state_file is not None
        with self.lock:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
            self.reset()
            for kind, table in data.get("objects", {}).items():
                if kind in self.objects:
                    self.objects[kind].update(table)
            self.idempotency = data.get("idempotency", {})
            self.meter_identifiers = {k: int(v) for k, v in data.get("meter_identifiers", {}).items()}
            self.seq = int(data.get("seq", 0))
