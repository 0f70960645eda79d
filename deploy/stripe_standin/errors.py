"""Stripe-shaped API errors."""

from __future__ import annotations

from typing import Any


class StripeError(Exception):
    """An error rendered as ``{"error": {...}}`` with Stripe's field names."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        err: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code:
            err["code"] = self.code
            err["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            err["param"] = self.param
        if request_id:
            err["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": err}


def missing_param(param: str, message: str | None = None) -> StripeError:
    return StripeError(message or f"Missing required param: {param}.", code="parameter_missing", param=param)


def invalid_param(param: str, message: str, code: str = "parameter_invalid") -> StripeError:
    return StripeError(message, code=code, param=param)


def no_such(kind: str, obj_id: str, *, param: str | None = "id", status: int = 404) -> StripeError:
    """`No such customer: 'cus_x'` — 404 when retrieving, 400 when referenced from a parameter."""
    return StripeError(f"No such {kind}: '{obj_id}'", status=status, code="resource_missing", param=param)
