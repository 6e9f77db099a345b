"""The JSON parser of the REST API: JSON numbers become Decimal (a client's 1.5 stays exactly 1.5,
invariant 7); NaN, Infinity and duplicate keys are refused; a body over DATA_UPLOAD_MAX_MEMORY_SIZE
is refused before a byte is read when its length is declared (invariant 8).

Its own module, free of rest_framework.views, because DRF imports DEFAULT_PARSER_CLASSES while
rest_framework.views itself is loading."""
import json
from decimal import Decimal

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from core.errors import TradeXError


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number")


def _no_duplicate_keys(pairs):
    # {"qty": "1", "qty": "1000"} means different things to different parsers: refuse it.
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


class DecimalJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = parser_context["request"]
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise _body_too_large(limit)
        raw = stream.read(limit + 1)  # a body that lied about (or omitted) its length stops here
        if len(raw) > limit:
            raise _body_too_large(limit)
        try:
            return json.loads(raw.decode(parser_context.get("encoding") or "utf-8"), parse_float=Decimal,
                              parse_constant=_refuse_constant, object_pairs_hook=_no_duplicate_keys)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"request body is not valid JSON: {exc}") from None


def _body_too_large(limit: int) -> TradeXError:
    return TradeXError("body_too_large", f"request body exceeds {limit} bytes", http_status=413)
