"""Every API error as JSON {"code", "reason", "message"}: domain errors and DRF's own."""
from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import exception_handler

from .errors import TradeXError

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
