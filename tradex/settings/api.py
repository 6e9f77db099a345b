"""Django REST framework and the OpenAPI schema."""
import os
from datetime import timedelta

from .base import INSTALLED_APPS, MIDDLEWARE

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.AlpacaKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.DecimalJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "tradex.api_errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "TradeX Trading API",
    "DESCRIPTION": "Alpaca Trading API v2 compatible REST API of the TradeX brokerage, with TradeX extensions "
    "(dry_run orders, order audit trail).",
    "VERSION": "2.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # A string field that refuses "" says so (minLength 1): the schema is the contract (schemathesis).
    "ENFORCE_NON_BLANK_FIELDS": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "tradex.schema_hooks.strings_refuse_nul"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Orders and positions both have a "side" (buy/sell vs long/short): name the two enums.
    "ENUM_NAME_OVERRIDES": {"OrderSideEnum": "orders.models.Order.Side", "PositionSideEnum": ["long", "short"],
                            "OrderTypeEnum": "orders.models.Order.Type", "DocumentTypeEnum": "settlement.models.Document.Kind"},
}

# --- Throttling (accounts/throttling.py, README "Rate limits") ----------------------------------
# REST: a token bucket per API key (a staff-set tier on the key overrides the default) and per
# signed-in user for the web terminal's session calls; 429 beyond, X-RateLimit-* on every answer.
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = ["accounts.throttling.ApiRateThrottle"]
TRADEX_API_RATE_LIMIT_PER_MINUTE = int(os.environ.get("TRADEX_API_RATE_LIMIT_PER_MINUTE", "200"))
TRADEX_API_SESSION_RATE_LIMIT_PER_MINUTE = int(os.environ.get("TRADEX_API_SESSION_RATE_LIMIT_PER_MINUTE", "200"))
MIDDLEWARE.append("accounts.throttling.RateLimitHeadersMiddleware")
# Logins and TOTP codes (django-axes): TRADEX_LOGIN_FAILURE_LIMIT failures in a row lock the
# username, and separately the address, for TRADEX_LOGIN_LOCKOUT_MINUTES; a wrong TOTP code counts
# as a failure (frontend.views); every lockout is an audit event (accounts.signals).
INSTALLED_APPS.append("axes")
AUTHENTICATION_BACKENDS = ["accounts.backends.LockoutBackend", "django.contrib.auth.backends.ModelBackend"]
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
AXES_FAILURE_LIMIT = int(os.environ.get("TRADEX_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("TRADEX_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each counted on its own
AXES_RESET_ON_SUCCESS = True
# Attempts during a lockout are refused unrecorded: the lockout ends on time, and is audited once.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
