"""What a venue emits. Private events (Accepted … OrderStatus) go to the order's owner and carry
`owner` so the FIX layer can route them; public events (Trade, Quote, Halted, Resumed) go to the
feed listeners. Prices and quantities are Decimal; `ts` is a timezone-aware UTC datetime.

Reason codes are short machine strings (see REASONS)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

# Status values of OrderStatus.status.
NEW, PARTIALLY_FILLED, FILLED, CANCELED = "new", "partially_filled", "filled", "canceled"

REASONS = frozenset({
    "unknown_symbol", "bad_tick", "bad_lot", "bad_qty", "bad_price", "bad_side", "bad_ord_type", "bad_tif",
    "halted", "unknown_order", "too_late_to_cancel", "duplicate_cl_ord_id", "not_replaceable",
    "no_liquidity",      # market order met an empty opposite side: remainder canceled
    "fok_not_filled",    # FOK could not fill in full: nothing filled, order canceled
    "ioc_unfilled",      # IOC remainder canceled
    "self_trade",        # resting order canceled because its owner's new order would have hit it
    "canceled",          # owner's cancel request
    "qty_below_filled",  # replace to qty <= cum filled: remainder canceled
})

_EVENT = {"frozen": True, "slots": True}


@dataclass(**_EVENT)
class Accepted:
    owner: str
    cl_ord_id: str
    order_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal | None
    ord_type: str
    tif: str


@dataclass(**_EVENT)
class Rejected:
    owner: str
    cl_ord_id: str
    symbol: str
    reason: str
    text: str = ""


@dataclass(**_EVENT)
class Fill:
    owner: str
    cl_ord_id: str
    order_id: str
    exec_id: str
    symbol: str
    side: str
    last_qty: Decimal
    last_px: Decimal
    cum_qty: Decimal
    leaves_qty: Decimal
    avg_px: Decimal
    fee: Decimal
    ts: datetime


@dataclass(**_EVENT)
class Canceled:
    owner: str
    cl_ord_id: str
    orig_cl_ord_id: str
    order_id: str
    cum_qty: Decimal
    leaves_qty: Decimal = Decimal(0)
    reason: str = "canceled"
    symbol: str = ""  # FIX 4.4 requires Symbol (55) on every ExecutionReport


@dataclass(**_EVENT)
class Replaced:
    owner: str
    cl_ord_id: str
    orig_cl_ord_id: str
    order_id: str
    qty: Decimal
    price: Decimal
    cum_qty: Decimal
    leaves_qty: Decimal
    symbol: str = ""  # FIX 4.4 requires Symbol (55) on every ExecutionReport


@dataclass(**_EVENT)
class CancelRejected:
    owner: str
    cl_ord_id: str
    orig_cl_ord_id: str
    reason: str
    text: str = ""


@dataclass(**_EVENT)
class OrderStatus:
    owner: str
    cl_ord_id: str
    order_id: str
    symbol: str
    side: str
    status: str
    qty: Decimal
    price: Decimal | None
    cum_qty: Decimal
    leaves_qty: Decimal
    avg_px: Decimal


@dataclass(**_EVENT)
class Trade:
    symbol: str
    price: Decimal
    qty: Decimal
    ts: datetime
    seq: int


@dataclass(**_EVENT)
class Quote:
    """Top of book; bid/ask are None (sizes 0) when that side is empty."""

    symbol: str
    bid: Decimal | None
    bid_size: Decimal
    ask: Decimal | None
    ask_size: Decimal
    ts: datetime
    seq: int


@dataclass(**_EVENT)
class Halted:
    symbol: str
    reason: str
    ts: datetime


@dataclass(**_EVENT)
class Resumed:
    symbol: str
    ts: datetime


PRIVATE_EVENTS = (Accepted, Rejected, Fill, Canceled, Replaced, CancelRejected, OrderStatus)
PUBLIC_EVENTS = (Trade, Quote, Halted, Resumed)
