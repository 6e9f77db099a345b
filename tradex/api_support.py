"""What every REST view shares: who is calling, how bodies and query strings are parsed, how
decimals are written, and the error shape in the schema.

Bodies are parsed with Decimal for JSON numbers (a client's 1.5 stays exactly 1.5, invariant 7),
refused above DATA_UPLOAD_MAX_MEMORY_SIZE before a byte is read when the length is declared, and
refused field by field with a machine-readable reason (invariant 8).
"""
from decimal import Decimal

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.views import APIView

from accounts.models import Account
from tradex.parsers import DecimalJSONParser
from tradex.errors import InvalidInput, Refused


def caller_account(request) -> Account:
    """The account every query of the request is scoped to."""
    account = getattr(request, "account", None)  # set by AlpacaKeyAuthentication
    if account is not None:
        return account
    try:
        return request.user.account
    except Account.DoesNotExist:
        raise Refused("no_account", "this user has no trading account") from None


def caller_actor(request) -> str:
    """Who the audit trail records: the API key, or the signed-in user."""
    key_id = getattr(request.auth, "key_id", None)
    return f"api:{key_id}" if key_id else f"user:{request.user.username}"


class AlpacaKeyScheme(OpenApiAuthenticationExtension):
    """Both headers together (an AND of two apiKey schemes), as alpaca-py sends them."""

    target_class = "accounts.authentication.AlpacaKeyAuthentication"
    name = ["apiKeyId", "apiSecretKey"]

    def get_security_definition(self, auto_schema):
        return [{"type": "apiKey", "in": "header", "name": "APCA-API-KEY-ID"},
                {"type": "apiKey", "in": "header", "name": "APCA-API-SECRET-KEY"}]


# --- bodies: parsed by tradex.parsers.DecimalJSONParser ---------------------------------------


class TradeXAPIView(APIView):
    """Base of the REST views; DecimalJSONParser is also DRF's default parser (settings/api.py)."""

    parser_classes = [DecimalJSONParser]


def _reason(field: str, code: str) -> str:
    """Reasons match the services' own: invalid_side, invalid_time_in_force, ..."""
    if code in ("required", "null", "blank"):
        return "missing_field"
    if code == "wrong_type":
        return "wrong_type"
    return f"invalid_{field}"


def parse_body(serializer_class, data) -> dict:
    """Validate a JSON body against a serializer: only its fields, each of the right type.
    Returns the fields the client sent (absent ones are absent, not None)."""
    if not isinstance(data, dict):
        raise InvalidInput("invalid_body", "request body must be a JSON object")
    serializer = serializer_class(data=data)
    unknown = sorted(set(data) - set(serializer.fields))
    if unknown:
        raise InvalidInput("unknown_field", f"unknown field(s): {', '.join(unknown)}")
    if not serializer.is_valid():
        field, errors = next(iter(serializer.errors.items()))
        raise InvalidInput(_reason(field, errors[0].code), f"{field}: {errors[0]}")
    return {k: v for k, v in serializer.validated_data.items() if v is not None}


def parse_query(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.query_params)
    if not serializer.is_valid():
        field, errors = next(iter(serializer.errors.items()))
        raise InvalidInput("invalid_parameter", f"{field}: {errors[0]}")
    return serializer.validated_data


class StrictCharField(serializers.CharField):
    """A JSON string and nothing else (DRF's CharField would turn 123 into "123")."""

    default_error_messages = {"wrong_type": "must be a string"}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("wrong_type")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"wrong_type": "must be true or false"}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("wrong_type")
        return data


@extend_schema_field({"oneOf": [{"type": "string", "format": "decimal"}, {"type": "number"}],
                      "description": "decimal as a string (preferred) or a JSON number, parsed exactly"})
class DecimalInputField(serializers.Field):
    """A number as a string, integer or JSON number (already Decimal, see DecimalJSONParser).
    The value is passed on untouched: the service validates it against its rules."""

    default_error_messages = {"wrong_type": "must be a decimal string or a number"}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (str, int, Decimal)):
            self.fail("wrong_type")
        return data


# --- output -----------------------------------------------------------------------------------


def dec_str(value: Decimal | None) -> str | None:
    """Alpaca writes decimals as plain strings without trailing zeros: "1", "0.5", "150.12".

    Equal to format(value.normalize(), "f") (tests/ops/test_dec_str.py), at about 60 % of its
    cost: str() is plain for every value but very small or very large ones, and trimming its
    zeros is cheaper than normalize(). Valuation writes 14 of these per position."""
    if value is None:
        return None
    if not value:
        return "0"
    text = str(value)
    if "E" in text:
        return format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@extend_schema_field({"type": "string", "format": "decimal", "example": "150.12"})
class DecimalString(serializers.Field):
    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return dec_str(value)


class ErrorSerializer(serializers.Serializer):
    code = serializers.IntegerField(help_text="Alpaca-style numeric code")
    reason = serializers.CharField(help_text="stable machine-readable reason, e.g. insufficient_buying_power")
    message = serializers.CharField()


# Every error status any endpoint can answer, in the one JSON shape: unauthenticated, forbidden,
# not found, invalid input or refused, rate limited (throttling), service unavailable (an outage).
ERRORS = {status: ErrorSerializer for status in (401, 403, 404, 422, 429, 503)}
BODY_ERRORS = {**ERRORS, 400: ErrorSerializer, 413: ErrorSerializer}  # endpoints that read a JSON body
