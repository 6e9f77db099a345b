"""Model fields for money, prices and quantities: NUMERIC columns (invariant 7), and the input
limits that match them (invariant 8). A column and the limit the API checks come from the same
DecimalLimit, so a value the API accepts is stored exactly: never rounded by the column, never
overflowing it. docs/api-input.md has the table per API field. And the models' choices built from
core.vocabulary's enums (text_choices)."""
from enum import StrEnum

from django.db import models

from .values import AVG_PRICE_PLACES, DecimalLimit

MONEY = DecimalLimit(digits=18, places=2)  # NUMERIC(20, 2): cash, amounts
PRICE = DecimalLimit(digits=14, places=AVG_PRICE_PLACES)  # NUMERIC(20, 6): prices (below 10^14)
QTY = DecimalLimit(digits=15, places=9)  # NUMERIC(24, 9): shares, fractional to 9 places (Alpaca)
NOTIONAL = DecimalLimit(digits=18, places=9)  # NUMERIC(27, 9): a dollar amount to trade, 9 places (Alpaca)
PERCENT = DecimalLimit(digits=4, places=4)  # NUMERIC(8, 4): trail_percent
# Not stored: a position close's percentage (0-100], turned into a qty.
CLOSE_PERCENTAGE = DecimalLimit(digits=3, places=9)


def _decimal_field(limit: DecimalLimit, **kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=limit.max_digits, decimal_places=limit.places, **kwargs)


def MoneyField(**kwargs) -> models.DecimalField:  # noqa: N802 - reads as a field class
    kwargs.setdefault("default", 0)
    return _decimal_field(MONEY, **kwargs)


def PriceField(**kwargs) -> models.DecimalField:  # noqa: N802
    return _decimal_field(PRICE, **kwargs)


def QtyField(**kwargs) -> models.DecimalField:  # noqa: N802
    return _decimal_field(QTY, **kwargs)


def NotionalField(**kwargs) -> models.DecimalField:  # noqa: N802
    return _decimal_field(NOTIONAL, **kwargs)


def PercentField(**kwargs) -> models.DecimalField:  # noqa: N802
    return _decimal_field(PERCENT, **kwargs)


def text_choices(vocabulary: type[StrEnum], *, module: str, qualname: str) -> type[models.TextChoices]:
    """The TextChoices of a core.vocabulary enum: the same member names and values, labels from
    the names as a TextChoices class body makes them ("STOP_LIMIT" -> "Stop Limit"), so a model
    keeps its choices, its Model.Kind.MEMBER, .choices, .values and .label, and each member
    equals the enum's. `module` and `qualname` name where the class is bound (for pickling):
        Side = text_choices(OrderSide, module=__name__, qualname="Order.Side")"""
    return models.TextChoices(qualname.rpartition(".")[2], [(m.name, m.value) for m in vocabulary],
                              module=module, qualname=qualname)
