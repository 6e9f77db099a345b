"""Reads of market state: assets and last trade prices."""
from decimal import Decimal

from django.core.cache import cache

from .models import Asset

LAST_PRICE_KEY = "md:last:{}"


def last_prices(symbols) -> dict[str, Decimal]:
    """Last trade price per symbol: one batch read of the quote cache, then one query on assets for
    whatever the cache lacks. A symbol with no known price is absent (callers fail closed)."""
    symbols = sorted(set(symbols))
    if not symbols:
        return {}
    cached = cache.get_many([LAST_PRICE_KEY.format(s) for s in symbols])
    prices = {s: Decimal(cached[LAST_PRICE_KEY.format(s)]) for s in symbols if LAST_PRICE_KEY.format(s) in cached}
    missing = [s for s in symbols if s not in prices]
    if missing:
        for symbol, price in Asset.objects.filter(symbol__in=missing, last_price__isnull=False).values_list("symbol", "last_price"):
            prices[symbol] = price
    return prices


def last_price_set(symbol: str, price: Decimal) -> None:
    """Publish a last trade price to the quote cache (the feed's job; tests and the demo use it)."""
    cache.set(LAST_PRICE_KEY.format(symbol), str(price), timeout=None)


def asset_by_symbol(symbol: str) -> Asset | None:
    return Asset.objects.filter(symbol=symbol.upper()).first()
