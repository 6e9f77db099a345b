"""Money, price and quantity as Decimal, never float (invariant 7), with the one rounding helper,
and the one way a number from outside becomes a Decimal (invariant 8).

Values arrive as str (JSON strings, FIX fields, query strings), int or Decimal (JSON numbers,
core.parsers); a float is refused because it has already lost the exact value the client meant.
A string is read only in plain ASCII decimal notation - an optional minus, digits, an optional
fraction, an optional exponent - so "٣", "１", "1_000", "+1" and " 1 " (all of which Python's
Decimal() accepts) are refused. A limit (DecimalLimit: digits before and after the point, the
shape of the field's NUMERIC column) is checked on the digits themselves, with no arithmetic,
so "1e999999999" is refused rather than overflowing, and 30 decimals are refused rather than
rounded by the column.
"""
import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal

from django.conf import settings

from .errors import InvalidInput

# fullmatch, not match: "$" would let a trailing newline through. [0-9] is ASCII only (\d is not).
_DECIMAL_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]{1,6})?")
MAX_DECIMAL_TEXT = 100  # characters; any longer is beyond every field's digits anyway
_INTEGER_TEXT = re.compile(r"-?[0-9]{1,18}")


def is_integer_text(value: str) -> bool:
    """ASCII digits (an optional minus), as for decimals: int() would read "٣", " 5 " and "1_0"."""
    return _INTEGER_TEXT.fullmatch(value) is not None


@dataclass(frozen=True)
class DecimalLimit:
    """How many digits a value may have before (`digits`) and after (`places`) the point: a
    NUMERIC(digits + places, places) column holds exactly these (core.fields)."""

    digits: int
    places: int

    @property
    def max_digits(self) -> int:
        return self.digits + self.places

    @property
    def largest(self) -> Decimal:
        return Decimal(10) ** self.digits - Decimal(1).scaleb(-self.places)


class BadDecimal(InvalidInput, ValueError):
    """A number that is not one, a float, or one beyond its field's digits. An InvalidInput with
    the field's own reason (invalid_qty, invalid_limit_price, ...), so a service that lets it
    through still answers 422."""

    def __init__(self, field: str, message: str):
        super().__init__(f"invalid_{field}", message)


def to_decimal(value: object, *, field: str = "value", limit: DecimalLimit | None = None) -> Decimal:
    """The exact Decimal of `value`, refused (BadDecimal) unless it is a finite number written in
    ASCII decimal notation and, with `limit`, within its digits and places."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int) and not isinstance(value, bool):
        result = Decimal(value)
    elif isinstance(value, str):
        if len(value) > MAX_DECIMAL_TEXT or not _DECIMAL_TEXT.fullmatch(value):
            raise BadDecimal(field, f"{field} is not a decimal number (ASCII digits, e.g. \"12.5\"): {value[:40]!r}")
        result = Decimal(value)
    else:
        raise BadDecimal(field, f"{field} must be a decimal string or a number, not {type(value).__name__}")
    if not result.is_finite():
        raise BadDecimal(field, f"{field} must be finite")
    if limit is not None:
        check_limit(result, field=field, limit=limit)
    return result


def _shape(value: Decimal) -> tuple[int, int]:
    """(digits before the point, places after it) of a finite value, trailing zeros ignored.
    From the digit tuple: normalize() would round to the context's 28 digits first."""
    _, digits, exponent = value.as_tuple()
    end = len(digits)
    while end > 1 and digits[end - 1] == 0:
        end -= 1
    exponent += len(digits) - end
    if end == 1 and digits[0] == 0:
        return 0, 0
    return max(0, end + exponent), max(0, -exponent)


def check_limit(value: Decimal, *, field: str, limit: DecimalLimit) -> Decimal:
    integer, places = _shape(value)
    if places > limit.places:
        raise BadDecimal(field, f"{field} has more than {limit.places} decimal places (it is refused, not rounded)")
    if integer > limit.digits:
        raise BadDecimal(field, f"{field} is too large: at most {limit.largest} in absolute value")
    return value


def _quantum(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


def round_to(value: Decimal, places: int, *, up: bool = False) -> Decimal:
    """The single rounding helper: banker's rounding, or towards +inf for reservations (a hold
    must never be smaller than what the order can cost)."""
    return value.quantize(_quantum(places), rounding=ROUND_CEILING if up else ROUND_HALF_EVEN)


# The places of each kind of number, in one spot. Money, prices and quantities have settings
# (TRADEX_MONEY_PLACES, TRADEX_PRICE_PLACES, TRADEX_QTY_PLACES, read by money(), price() and qty()
# below). A price the broker computes (an average fill or entry price, a price divided by a split
# ratio) keeps all the places of the PRICE column (core.fields.PRICE is built from this), so
# realized P&L does not drift; a ratio (a P&L percentage, a return) keeps RATIO_PLACES.
AVG_PRICE_PLACES = 6
RATIO_PLACES = 6


def money(value: Decimal, *, up: bool = False) -> Decimal:
    return round_to(value, settings.TRADEX_MONEY_PLACES, up=up)


def price(value: Decimal) -> Decimal:
    return round_to(value, settings.TRADEX_PRICE_PLACES)


def qty(value: Decimal) -> Decimal:
    return round_to(value, settings.TRADEX_QTY_PLACES)


def decimal_places(value: Decimal) -> int:
    """Places after the point, trailing zeros ignored (exact for any number of digits)."""
    return _shape(value)[1] if value.is_finite() else 0


# --- text -------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def has_control_characters(value: str) -> bool:
    """NUL cannot be stored in PostgreSQL text (psycopg refuses the whole query); no symbol, name
    or id has any other C0 control either."""
    return _CONTROL.search(value) is not None
