"""Money, price and quantity as Decimal, never float (invariant 7), with the one rounding helper.

Values arrive as str (JSON strings, FIX fields) or Decimal; a float is refused because it has
already lost the exact value the client meant.
"""
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal, InvalidOperation

from django.conf import settings

from .errors import InvalidInput


class BadDecimal(InvalidInput, ValueError):
    """A number that is not one, or a float. An InvalidInput, so a service that lets it through
    still answers 422 with a reason."""

    def __init__(self, message: str):
        super().__init__("invalid_number", message)


def to_decimal(value: object, *, field: str = "value") -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):
        raise BadDecimal(f"{field} must be a string or integer, not {type(value).__name__}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, (int, str)):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise BadDecimal(f"{field} is not a number: {value!r}") from exc
    else:
        raise BadDecimal(f"{field} must be a string or integer, not {type(value).__name__}")
    if not result.is_finite():
        raise BadDecimal(f"{field} must be finite")
    return result


def _quantum(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


def round_to(value: Decimal, places: int, *, up: bool = False) -> Decimal:
    """The single rounding helper: banker's rounding, or towards +inf for reservations (a hold
    must never be smaller than what the order can cost)."""
    return value.quantize(_quantum(places), rounding=ROUND_CEILING if up else ROUND_HALF_EVEN)


def money(value: Decimal, *, up: bool = False) -> Decimal:
    return round_to(value, settings.TRADEX_MONEY_PLACES, up=up)


def price(value: Decimal) -> Decimal:
    return round_to(value, settings.TRADEX_PRICE_PLACES)


def qty(value: Decimal) -> Decimal:
    return round_to(value, settings.TRADEX_QTY_PLACES)


def decimal_places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0
