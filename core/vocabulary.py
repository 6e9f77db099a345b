"""The broker's words: sides, order types, times in force, order classes and the statuses that
risk, the services and the models compare against, as plain-Python enums (no Django).

A StrEnum member is a str equal to its value (OrderSide.BUY == "buy", same hash), so it is
compared with a column's value, used as a filter argument and serialized (json, orjson, msgpack)
exactly as the string it replaces. The models' choices are built from these enums
(core.fields.text_choices), so Order.Side.BUY == OrderSide.BUY and the columns' choices are the
same (value, label) pairs they always were.

Trade-update event names ("fill", "canceled", ...) and the FIX dictionary's values
(orders/fixbridge) are other vocabularies and are not here.
"""
from enum import StrEnum


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    OPG = "opg"
    CLS = "cls"


class OrderClass(StrEnum):
    SIMPLE = "simple"
    BRACKET = "bracket"
    OCO = "oco"
    OTO = "oto"


class OrderStatus(StrEnum):
    """Alpaca's order statuses; which may follow which is orders.state's table."""

    NEW = "new"
    PENDING_NEW = "pending_new"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    DONE_FOR_DAY = "done_for_day"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REPLACED = "replaced"
    PENDING_CANCEL = "pending_cancel"
    PENDING_REPLACE = "pending_replace"
    REJECTED = "rejected"
    STOPPED = "stopped"
    SUSPENDED = "suspended"
    # A leg of a bracket/OTO order waiting for its parent to fill (Alpaca's "held").
    HELD = "held"


class AccountType(StrEnum):
    CASH = "cash"
    MARGIN = "margin"


class AccountStatus(StrEnum):
    ACTIVE = "ACTIVE"
    RESTRICTED = "RESTRICTED"  # closing trades only
    CLOSED = "CLOSED"


class KycStatus(StrEnum):
    """An account trades only once its KYC profile is approved."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class PositionSide(StrEnum):
    LONG = "long"
    SHORT = "short"


class MarginCallStatus(StrEnum):
    OPEN = "open"  # account restricted to closing trades until met or liquidated
    MET = "met"  # equity back above the requirement (deposit, price move, closing trades)
    LIQUIDATING = "liquidating"  # liquidation orders sent
    LIQUIDATED = "liquidated"


class ObligationStatus(StrEnum):
    """A trade's settlement obligation: pending until its settle date's batch."""

    PENDING = "pending"
    SETTLED = "settled"
    FAILED = "failed"
