"""The feed's values, shared by the feed handler (writer), the bars/indicators code and the
streaming consumers (readers). Plain frozen dataclasses: prices and sizes are Decimal, `ts` is the
exchange's UTC timestamp, `venue` the venue that printed it (Alpaca's exchange code `x`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class TradeTick:
    symbol: str
    venue: str
    price: Decimal
    size: Decimal
    ts: datetime
    seq: int  # the venue's feed sequence number (unique per venue)


@dataclass(frozen=True, slots=True)
class QuoteTick:
    """Top of book of one venue; bid/ask None (size 0) when that side is empty."""

    symbol: str
    venue: str
    bid: Decimal | None
    bid_size: Decimal
    ask: Decimal | None
    ask_size: Decimal
    ts: datetime
    seq: int
