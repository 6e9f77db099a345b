"""What every REST view shares: how bodies and query strings are parsed, how
decimals are written, and the error shape in the schema.

Bodies are parsed with Decimal for JSON numbers (a client's 1.5 stays exactly 1.5, invariant 7),
refused above DATA_UPLOAD_MAX_MEMORY_SIZE before a byte is read when the length is declared, and
refused field by field with a machine-readable reason (invariant 8).
"""
from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.views import APIView

from core.errors import InvalidInput
from core.parsers import DecimalJSONParser
from core.values import DecimalLimit, has_control_characters, is_integer_text, to_decimal


# --- bodies: parsed by core.parsers.DecimalJSONParser ---------------------------------------


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


def _first_error(errors, path: str):
    """(where, ErrorDetail) of the first error, however deep: a list's items report
    {index: [errors]}, a nested serializer {field: [errors]}."""
    if isinstance(errors, dict):
        key, value = next(iter(errors.items()))
        return _first_error(value, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}")
    first = errors[0]
    if isinstance(first, (dict, list)):
        return _first_error(first, path)
    return path, first


def parse_body(serializer_class, data) -> dict:
    """Validate a JSON body against a serializer: only its fields, each of the right type and
    within its limits (DecimalInputField, StrictCharField). Returns the fields the client sent
    (absent ones are absent, not None)."""
    if not isinstance(data, dict):
        raise InvalidInput("invalid_body", "request body must be a JSON object")
    serializer = serializer_class(data=data)
    unknown = sorted(set(data) - set(serializer.fields))
    if unknown:
        raise InvalidInput("unknown_field", f"unknown field(s): {', '.join(unknown)}")
    if not serializer.is_valid():
        field = next(iter(serializer.errors))
        where, error = _first_error(serializer.errors[field], field)
        raise InvalidInput(_reason(field, error.code), f"{where}: {error}")
    return {k: v for k, v in serializer.validated_data.items() if v is not None}


def parse_query(serializer_class, request, *, strict: bool = False) -> dict:
    """Validate a query string; with `strict` (write endpoints), a parameter the serializer does
    not know is refused instead of ignored."""
    if strict:
        unknown = sorted(set(request.query_params) - set(serializer_class().fields))
        if unknown:
            raise InvalidInput("unknown_parameter", f"unknown query parameter(s): {', '.join(unknown)}")
    # "?status=" is not "no status": a parameter given empty is refused, never read as absent.
    empty = sorted(name for name, value in request.query_params.items() if value == "")
    if empty:
        raise InvalidInput("invalid_parameter", f"{empty[0]}: must not be empty")
    serializer = serializer_class(data=request.query_params)
    if not serializer.is_valid():
        field = next(iter(serializer.errors))
        where, error = _first_error(serializer.errors[field], field)
        raise InvalidInput("invalid_parameter", f"{where}: {error}")
    return serializer.validated_data


def _no_control_characters(value: str) -> None:
    if has_control_characters(value):
        raise serializers.ValidationError("must not contain control characters", code="control_characters")


DEFAULT_MAX_LENGTH = 256


class StrictCharField(serializers.CharField):
    """A JSON string and nothing else (DRF's CharField would turn 123 into "123"), without
    control characters, at most max_length (default 256) characters."""

    default_error_messages = {"wrong_type": "must be a string"}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", DEFAULT_MAX_LENGTH)
        super().__init__(**kwargs)
        self.validators.append(_no_control_characters)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("wrong_type")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """An integer in ASCII digits (query strings) or a JSON integer: DRF's IntegerField reads
    "٣", " 5 " and "1_0" through int(), and 5.0 as 5."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, str)) or (
                isinstance(data, str) and not is_integer_text(data)):
            self.fail("invalid")
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
    """A number as a string, integer or JSON number (already Decimal, see DecimalJSONParser),
    read by core.values.to_decimal: ASCII decimal notation only, within `limit` (the digits and
    places of the field's column, core.fields), refused with invalid_<field> otherwise, never
    rounded. Range rules (positive, below 100, tick size) stay with the service."""

    default_error_messages = {"wrong_type": "must be a decimal string or a number"}

    def __init__(self, *, limit: DecimalLimit, **kwargs):
        self.limit = limit
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (str, int, Decimal)):
            self.fail("wrong_type")
        return to_decimal(data, field=self.field_name, limit=self.limit)


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
