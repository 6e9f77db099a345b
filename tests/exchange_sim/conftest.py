"""The simulator core is pure: its tests need neither the database nor the cache."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from exchange_sim import SymbolSpec, Venue, default_venues


@pytest.fixture(autouse=True)
def _clear_cache():
    """Overrides the suite-wide fixture that clears Redis: nothing here touches it."""
    yield


T0 = datetime(2025, 1, 2, 14, 30, tzinfo=timezone.utc)


class FakeClock:
    """Moves only when told; each read advances 1 µs so journaled timestamps stay ordered."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1)
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


SPECS = {
    "AAPL": SymbolSpec(symbol="AAPL", reference_price=Decimal("100.00")),
    "MSFT": SymbolSpec(symbol="MSFT", reference_price=Decimal("400.00")),
}


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def make_venue(tmp_path, clock):
    """make_venue(**config overrides) -> a Venue journaling under tmp_path; same args, same journal."""
    opened = []

    def make(index: int = 0, specs=SPECS, **overrides) -> Venue:
        config = default_venues(3, symbols=list(specs), journal_dir=str(tmp_path), seed=42, walk_anchor=T0)[index]
        if overrides:
            from dataclasses import replace
            config = replace(config, **overrides)
        venue = Venue(config, specs, clock=clock)
        opened.append(venue)
        return venue

    yield make
    for venue in opened:
        venue.close()
