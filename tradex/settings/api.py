"""Django REST framework and the OpenAPI schema."""

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.AlpacaKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["tradex.parsers.DecimalJSONParser"],
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
