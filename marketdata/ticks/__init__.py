"""Ticks: the feed's trades and quotes as values (values), kept append-only by exchange time in
the tick store (store), and read back a page at a time in Alpaca's shape (query). The REST views
are marketdata/api/ticks.py; see docs/marketdata-feed.md."""
from .values import QuoteTick, TradeTick

__all__ = ["QuoteTick", "TradeTick"]
