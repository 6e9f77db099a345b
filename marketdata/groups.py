"""Channel-layer names and message shape for market data, between the feed handler (which sends)
and the streaming consumers (which receive).

Per symbol and per feed batch the handler sends at most one message to `symbol_group(symbol)`:

    {"type": "md.update",            # -> consumer method md_update
     "symbol": "AAPL",
     "sent_ns": 1700000000000000000, # time.time_ns() when the handler sent it (latency bench)
     "q": {Alpaca quote fields} | None,   # the latest consolidated quote of the batch (conflated)
     "t": [{Alpaca trade fields}, ...],   # every trade of the batch, in order
     "b": [{Alpaca bar fields}, ...],     # 1-minute bars closed in the batch ("T": "u": a correction)
     "i": {"T": "i", "S", "t", "v": {"sma:20": "230.1", "macd:12:26:9": {...}, ...}} | None}
                                     # TradeX: streaming indicators after the latest closed bar

Alpaca fields (stock data stream v2) with prices and sizes as decimal *strings* (the consumer
renders them as JSON numbers): quote {"T": "q", "S", "bx", "bp", "bs", "ax", "ap", "as", "t", "c",
"z"}, trade {"T": "t", "S", "i", "x", "p", "s", "t", "c", "z"}, bar {"T": "b", "S", "o", "h", "l",
"c", "v", "t", "n", "vw"}; "t" is RFC 3339 UTC with nanoseconds, the exchange timestamp.
"""
from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def symbol_group(symbol: str) -> str:
    """Channels group names allow ASCII letters, digits, hyphens, underscores and periods."""
    return "md." + _UNSAFE.sub("_", symbol.upper())


def user_group(user_id) -> str:
    """Per-user notifications (price alerts, margin calls): {"type": "user.notify", "kind": ..., "data": {...}}."""
    return f"user.{user_id}"


def account_group(account_id) -> str:
    """Live account valuation (portfolio): {"type": "account.update", "data": {Alpaca account fields
    plus "positions": [...] when they changed}}, conflated to a few per second per account."""
    return f"acct.{account_id}"
