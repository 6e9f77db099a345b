"""Every API error as JSON {"code", "reason", "message"}: domain errors, DRF's own, outages of the
database or Redis (503), and anything else (500) - never Django's HTML error page (invariant 8).

Three places cover every path a request takes: the DRF exception handler (views), handler500 /
handler404 (middleware and plain Django views, tradex/urls.py), and tradex.asgi_guard for
WebSocket upgrades."""
import logging
import sys

import redis.exceptions
from django.core.exceptions import PermissionDenied
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.http import Http404, JsonResponse
from django.views import defaults
from kombu.exceptions import OperationalError as BrokerOperationalError
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.errors import TradeXError

log = logging.getLogger(__name__)

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

# A dependency that did not answer: the request failed closed (its transaction rolled back, or
# never began) and may be retried. Database: OperationalError (connection refused or lost, pool
# timeout), InterfaceError (connection closed); Redis: cache, quotes, channel layer, stream
# leases; the Celery broker (kombu); sockets to anything else.
DATABASE_OUTAGES = (DatabaseOperationalError, DatabaseInterfaceError)
OTHER_OUTAGES = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, BrokerOperationalError,
                 ConnectionError, TimeoutError)
OUTAGES = DATABASE_OUTAGES + OTHER_OUTAGES
UNAVAILABLE_CODE, INTERNAL_CODE = 50310000, 50010000
RETRY_AFTER_SECONDS = "5"


def unavailable_body(exc: BaseException) -> dict:
    what = "the database" if isinstance(exc, DATABASE_OUTAGES) else "a service TradeX depends on (Redis)"
    return {"code": UNAVAILABLE_CODE, "reason": "service_unavailable",
            "message": f"{what} is unavailable; the request was not carried out, retry later"}


INTERNAL_BODY = {"code": INTERNAL_CODE, "reason": "internal_error", "message": "internal server error"}


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in detail.items())
    if isinstance(detail, list):
        return "; ".join(_flatten(v) for v in detail)
    return str(detail)


def api_exception_handler(exc, context):
    if isinstance(exc, TradeXError):
        return Response(exc.as_body(), status=exc.http_status)
    if isinstance(exc, OUTAGES):
        log.warning("outage answered 503: %r", exc)
        return Response(unavailable_body(exc), status=503, headers={"Retry-After": RETRY_AFTER_SECONDS})
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None  # a bug: re-raised, logged by Django, answered by server_error below
    reason, code = "error", response.status_code * 100000
    for klass, (r, c) in _DRF_REASONS.items():
        if isinstance(exc, klass):
            reason, code = r, c
            break
    if isinstance(exc, drf.ValidationError):
        response.status_code = 422
    response.data = {"code": code, "reason": reason, "message": _flatten(getattr(exc, "detail", str(exc)))}
    return response


def _wants_html(request) -> bool:
    """A browser navigating to a page of the web terminal (not the API) may get Django's page."""
    path = request.path
    api = path.startswith(("/v2/", "/api/", "/stream")) or path in ("/v2", "/healthz", "/readyz")
    return not api and "text/html" in request.headers.get("Accept", "")


def server_error(request, *args, **kwargs):
    """handler500: called by Django inside the except block of the request that failed, so the
    exception is still in sys.exc_info(). An outage is 503, anything else 500; JSON either way."""
    exc = sys.exc_info()[1]
    if isinstance(exc, OUTAGES):
        return JsonResponse(unavailable_body(exc), status=503, headers={"Retry-After": RETRY_AFTER_SECONDS})
    if _wants_html(request):
        return defaults.server_error(request)
    return JsonResponse(INTERNAL_BODY, status=500)


def not_found(request, exception=None, *args, **kwargs):
    """handler404 for what no URL pattern matched outside /v2/ (which has its own catch-all)."""
    if _wants_html(request):
        return defaults.page_not_found(request, exception)
    return JsonResponse({"code": 40410000, "reason": "not_found", "message": f"nothing at {request.path[:200]!r}"},
                        status=404)
