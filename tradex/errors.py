"""Domain errors with machine-readable codes, and their JSON form for the API (invariant 8).

The body keeps Alpaca's shape ({"code": <int>, "message": ...}) so alpaca-py's APIError parses it,
and adds "reason", a stable string code clients can branch on.
"""
from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import exception_handler


class TradeXError(Exception):
    http_status = 422
    alpaca_code = 42210000

    def __init__(self, reason: str, message: str, *, http_status: int | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        if http_status is not None:
            self.http_status = http_status

    def as_body(self) -> dict:
        return {"code": self.alpaca_code if self.http_status == type(self).http_status else self.http_status * 100000,
                "reason": self.reason, "message": self.message}


class InvalidInput(TradeXError):
    http_status = 422
    alpaca_code = 42210000


class NotFound(TradeXError):
    http_status = 404
    alpaca_code = 40410000

    def __init__(self, message: str = "resource not found", reason: str = "not_found"):
        super().__init__(reason, message)


class Refused(TradeXError):
    """A business rule refused the request (risk, buying power, state)."""

    http_status = 403
    alpaca_code = 40310000


class Conflict(TradeXError):
    http_status = 422
    alpaca_code = 42210000


_DRF_REASONS = {
    drf.NotAuthenticated: ("unauthenticated", 40110000),
    drf.AuthenticationFailed: ("unauthenticated", 40110000),
    drf.PermissionDenied: ("forbidden", 40310000),
    drf.NotFound: ("not_found", 40410000),
    drf.MethodNotAllowed: ("method_not_allowed", 40510000),
    drf.NotAcceptable: ("not_acceptable", 40610000),
    drf.UnsupportedMediaType: ("unsupported_media_type", 41510000),
    drf.Throttled: ("rate_limited", 42910000),
    drf.ParseError: ("malformed_json", 40010000),
    drf.ValidationError: ("invalid_input", 42210000),
}


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in detail.items())
    if isinstance(detail, list):
        return "; ".join(_flatten(v) for v in detail)
    return str(detail)


def api_exception_handler(exc, context):
    if isinstance(exc, TradeXError):
        return Response(exc.as_body(), status=exc.http_status)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    reason, code = "error", response.status_code * 100000
    for klass, (r, c) in _DRF_REASONS.items():
        if isinstance(exc, klass):
            reason, code = r, c
            break
    if isinstance(exc, drf.ValidationError):
        response.status_code = 422
    response.data = {"code": code, "reason": reason, "message": _flatten(getattr(exc, "detail", str(exc)))}
    return response
