"""Bars for the market-data tests: real rows written by the real backfill (binary COPY)."""
from datetime import datetime, timezone
from decimal import Decimal

from exchange_sim.config import reference_specs
from marketdata.bars.backfill import bars_backfill
from tests.factories import make_asset

UTC = timezone.utc
# A Wednesday after the close: the last completed session is 2026-03-11.
NOW = datetime(2026, 3, 11, 21, 30, tzinfo=UTC)
PRICES = {"AAPL": Decimal("230.00"), "MSFT": Decimal("420.00"), "BYND": Decimal("1.80")}


def seed_bars(symbols=("AAPL", "MSFT"), *, days=45, minute_days=3, seed=7) -> dict:
    for symbol in symbols:
        make_asset(symbol, price=PRICES[symbol])
    return bars_backfill(specs=reference_specs({s: PRICES[s] for s in symbols}), now=NOW, seed=seed, days=days,
                         minute_days=minute_days)
