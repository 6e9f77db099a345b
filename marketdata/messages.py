"""Alpaca stock-stream message dicts from feed integers (millionths, Unix nanoseconds), with prices
and sizes as exact decimal strings (marketdata.groups documents the contract). Written by the feed
handler, and by the tick store's reader for the same shapes over REST."""
from __future__ import annotations

import time

_SCALE = 1_000_000


def price_text(value: int) -> str:
    """Integer millionths -> shortest exact decimal text: 229500000 -> "229.5"."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(int(value)), _SCALE)
    if not frac:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:06d}".rstrip("0")


_second = [-1, ""]  # the last second formatted: a batch's timestamps mostly share it


def rfc3339(ts_ns: int) -> str:
    """Unix nanoseconds -> RFC 3339 UTC with nanoseconds, as Alpaca timestamps are."""
    seconds, ns = divmod(int(ts_ns), 1_000_000_000)
    if seconds != _second[0]:
        _second[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _second[0] = seconds
    return f"{_second[1]}.{ns:09d}Z"


def quote_message(symbol: str, bid_venue: str, bid: int, bid_size: int, ask_venue: str, ask: int, ask_size: int,
                  ts_ns: int) -> dict:
    return {"T": "q", "S": symbol, "bx": bid_venue if bid else "", "bp": price_text(bid), "bs": price_text(bid_size),
            "ax": ask_venue if ask else "", "ap": price_text(ask), "as": price_text(ask_size), "t": rfc3339(ts_ns),
            "c": ["R"], "z": "C"}


def trade_message(symbol: str, venue: str, seq: int, price: int, size: int, ts_ns: int) -> dict:
    return {"T": "t", "S": symbol, "i": int(seq), "x": venue, "p": price_text(price), "s": price_text(size),
            "t": rfc3339(ts_ns), "c": ["@"], "z": "C"}
