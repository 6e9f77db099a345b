"""Reads of market state: assets and last trade prices."""
import json
import uuid
from decimal import Decimal

from django.utils import timezone

from core.ttl_cache import TTLCache

from . import quote_cache
from .bars.apply import dec, rfc3339
from .bars.query import latest_closes
from .models import Asset

LAST_PRICE_KEY = "md:last:{}"
FEED_STATS_KEY = "md:feed:stats"  # the running feed handler's counters, refreshed every second
READ_THROUGH_SECONDS = 5
# Asset rows for order entry, per process: symbol -> Asset. Flags such as tradable change by staff
# action a few times a year; a second of delay is the price of one query less per order. Halts,
# which must apply at once, are read with the account lock instead (risk.inputs).
ASSET_CACHE_SECONDS = 1.0
_assets = TTLCache(ASSET_CACHE_SECONDS)


def last_prices(symbols) -> dict[str, Decimal]:
    """Last trade price per symbol: one batch read of the quote cache, then one query on assets for
    whatever the cache lacks. A symbol with no known price is absent (callers fail closed)."""
    symbols = sorted(set(symbols))
    if not symbols:
        return {}
    keys = [LAST_PRICE_KEY.format(s) for s in symbols]
    cached = quote_cache.get_many(keys)
    prices = {s: Decimal(v) for s, k in zip(symbols, keys) if (v := cached.get(k)) is not None}
    missing = [s for s in symbols if s not in prices]
    if missing:
        found = dict(Asset.objects.filter(symbol__in=missing, last_price__isnull=False).values_list("symbol", "last_price"))
        prices.update(found)
        # Read-through, briefly: the feed overwrites these keys with every trade it sees.
        quote_cache.set_many({LAST_PRICE_KEY.format(s): str(p) for s, p in found.items()}, ttl=READ_THROUGH_SECONDS)
    return prices


def last_price_set(symbol: str, price: Decimal) -> None:
    """Publish a last trade price to the quote cache (the feed's job; tests and the demo use it)."""
    quote_cache.set_many({LAST_PRICE_KEY.format(symbol): str(price)})


def asset_by_symbol(symbol: str) -> Asset | None:
    return Asset.objects.filter(symbol=symbol.upper()).first()


def asset_cache_clear() -> None:
    _assets.clear()


def asset_for_order(symbol: str) -> Asset | None:
    """The asset an order names, from the per-process cache (ASSET_CACHE_SECONDS). Only assets
    that exist are cached: the key is client input, and caching misses would let a client grow
    the cache without bound with made-up symbols."""
    symbol = symbol.strip().upper()
    return _assets.get_or_load(symbol, lambda: asset_by_symbol(symbol), keep=lambda asset: asset is not None)


def asset_by_symbol_or_id(symbol_or_id: str) -> Asset | None:
    """Alpaca's /assets/{symbol_or_asset_id}: a UUID is an asset id, anything else a symbol."""
    try:
        return Asset.objects.filter(pk=uuid.UUID(symbol_or_id)).first()
    except ValueError:
        return asset_by_symbol(symbol_or_id)


def asset_list(*, status: str | None = None, asset_class: str | None = None,
               exchange: str | None = None) -> list[Asset]:
    qs = Asset.objects.order_by("symbol")
    if status:
        qs = qs.filter(status=status)
    if asset_class:
        qs = qs.filter(asset_class=asset_class)
    if exchange:
        qs = qs.filter(exchange=exchange)
    return list(qs)


# --- latest quotes and trades (market-data REST; the feed writes these keys) --------------------
#
# Keys and values (docs/marketdata-bars.md), in the latest-quote cache (marketdata/quote_cache.py), no
# expiry: "md:quote:{SYMBOL}" -> JSON text {"t", "bx", "bp", "bs", "ax", "ap", "as", "c", "z"} and
# "md:trade:{SYMBOL}" -> JSON text {"t", "x", "p", "s", "i", "c", "z"}: Alpaca's field names, "t"
# RFC 3339 UTC, prices and sizes as decimal strings ("100.25"), "i" an integer, "c" a list of
# strings. latest_quote_set / latest_trade_set write exactly that.
QUOTE_KEY = "md:quote:{}"
TRADE_KEY = "md:trade:{}"


def _latest(template: str, symbols) -> dict[str, dict]:
    symbols = sorted({s.upper() for s in symbols})
    cached = quote_cache.get_many([template.format(s) for s in symbols])
    return {s: json.loads(cached[template.format(s)]) for s in symbols if template.format(s) in cached}


def latest_quotes(symbols) -> dict[str, dict]:
    """{symbol: Alpaca quote fields} for the symbols the feed has quoted; others are absent."""
    return _latest(QUOTE_KEY, symbols)


def latest_trades(symbols) -> dict[str, dict]:
    """{symbol: Alpaca trade fields} from the feed's cache; for a symbol the cache lacks, its last
    1-minute bar's close (stamped with that trade's time), else Asset.last_price (stamped now, size
    0, exchange ""). A symbol with neither is absent."""
    symbols = sorted({s.upper() for s in symbols})
    found = _latest(TRADE_KEY, symbols)
    missing = [s for s in symbols if s not in found]
    if missing:
        for symbol, (close, close_ts) in latest_closes(missing).items():
            found[symbol] = {"t": rfc3339(close_ts), "x": "", "p": dec(close), "s": "0", "i": 0, "c": [], "z": "C"}
        rest = [s for s in missing if s not in found]
        if rest:
            now = rfc3339(timezone.now())
            for symbol, price in Asset.objects.filter(symbol__in=rest, last_price__isnull=False).values_list(
                    "symbol", "last_price"):
                found[symbol] = {"t": now, "x": "", "p": dec(price), "s": "0", "i": 0, "c": [], "z": "C"}
    return found


def latest_quote_set(symbol: str, fields: dict) -> None:
    quote_cache.set_many({QUOTE_KEY.format(symbol.upper()): json.dumps(fields)})


def latest_trade_set(symbol: str, fields: dict) -> None:
    quote_cache.set_many({TRADE_KEY.format(symbol.upper()): json.dumps(fields)})
def asset_symbols() -> frozenset[str]:
    """Every asset's symbol (the market-data stream's set of subscribable symbols)."""
    return frozenset(Asset.objects.values_list("symbol", flat=True))
