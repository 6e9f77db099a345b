"""Building the feed handler from settings: venues, price listeners and trade sinks."""
from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from .handler import FeedHandler

# Called with each batch's trades (list[marketdata.ticks.TradeTick]) on the store thread.
TRADE_SINKS: tuple[str, ...] = ("marketdata.bars.bars_apply_trades",)


def feed_venues() -> list[tuple[str, str, int]]:
    return [(name, host, port + settings.TRADEX_VENUE_FEED_OFFSET) for name, host, port in settings.TRADEX_VENUES]


def feed_handler_from_settings(venues=None) -> FeedHandler:
    listeners = [import_string(path)() for path in settings.TRADEX_FEED_LISTENERS]
    sinks = [import_string(path) for path in TRADE_SINKS]
    return FeedHandler(venues or feed_venues(), listeners=listeners, trade_sinks=sinks)
