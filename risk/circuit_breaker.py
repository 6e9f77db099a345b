"""The broker's circuit breaker: a symbol whose last-trade price moves more than a threshold
(TRADEX_CIRCUIT_BREAKER_PCT, 10 %) within a rolling window (TRADEX_CIRCUIT_BREAKER_WINDOW_SECONDS,
5 minutes) trips, and risk.services.circuit_breaker_trip halts it for a pause
(TRADEX_CIRCUIT_BREAKER_PAUSE_SECONDS) after which the halt lifts itself (its resume_at).

Pure and in memory, with no database, clock or I/O: whichever process sees last-trade prices hosts
one CircuitBreaker, feeds it `observe(symbol, price, at)` and calls circuit_breaker_trip for each
Trip it returns (after its own transaction, never under a row lock):

    for trip in breaker.observe(symbol, price, at):
        circuit_breaker_trip(**trip.as_kwargs())

The move is measured against the lowest and the highest price of the window, so a rise and a fall
both trip, whatever the path inside the window. Each band keeps two monotonic deques of
(time, price): the candidates for the window's minimum and maximum. Each price is appended once
and removed at most once, so an observation costs O(1) amortised, and memory holds only those
candidates. A trip empties the band and mutes the symbol for the pause: one move, one trip (the
halt is in force meanwhile); prices seen during the pause still fill the new window, so a move that
goes on after the resume trips again.
"""
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings


@dataclass(frozen=True)
class Trip:
    symbol: str
    reference_price: Decimal  # the window's low (a rise) or high (a fall)
    price: Decimal
    at: datetime

    @property
    def move(self) -> Decimal:
        return (self.price - self.reference_price) / self.reference_price

    def as_kwargs(self) -> dict:
        return {"symbol": self.symbol, "reference_price": self.reference_price, "price": self.price, "at": self.at}


class PriceBand:
    """One symbol's prices over the last `window`: its low and high, in O(1) amortised per price."""

    __slots__ = ("window", "_lows", "_highs", "last_at")

    def __init__(self, window: timedelta):
        self.window = window
        self._lows: deque[tuple[datetime, Decimal]] = deque()  # prices increasing left to right
        self._highs: deque[tuple[datetime, Decimal]] = deque()  # prices decreasing left to right
        self.last_at: datetime | None = None

    def advance(self, at: datetime) -> None:
        """Forget prices older than `at - window` (a price exactly `window` old still counts)."""
        cutoff = at - self.window
        for candidates in (self._lows, self._highs):
            while candidates and candidates[0][0] < cutoff:
                candidates.popleft()

    def add(self, at: datetime, price: Decimal) -> None:
        while self._lows and self._lows[-1][1] >= price:
            self._lows.pop()
        self._lows.append((at, price))
        while self._highs and self._highs[-1][1] <= price:
            self._highs.pop()
        self._highs.append((at, price))
        self.last_at = at

    @property
    def low(self) -> Decimal | None:
        return self._lows[0][1] if self._lows else None

    @property
    def high(self) -> Decimal | None:
        return self._highs[0][1] if self._highs else None

    def clear(self) -> None:
        self._lows.clear()
        self._highs.clear()

    def __len__(self) -> int:
        return max(len(self._lows), len(self._highs))


class CircuitBreaker:
    """Per-symbol PriceBands; `observe` says when a symbol trips. Not thread-safe: one host thread
    feeds it (the feed handler's)."""

    def __init__(self, *, threshold: Decimal, window: timedelta, pause: timedelta):
        if not isinstance(threshold, Decimal) or not 0 < threshold < 1:
            raise ValueError("threshold must be a Decimal fraction between 0 and 1, e.g. Decimal('0.10')")
        if window <= timedelta(0) or pause < timedelta(0):
            raise ValueError("window must be positive and pause not negative")
        self.threshold = threshold
        self.window = window
        self.pause = pause
        self._bands: dict[str, PriceBand] = {}
        self._muted_until: dict[str, datetime] = {}

    @classmethod
    def from_settings(cls) -> "CircuitBreaker":
        return cls(threshold=settings.TRADEX_CIRCUIT_BREAKER_PCT,
                   window=timedelta(seconds=settings.TRADEX_CIRCUIT_BREAKER_WINDOW_SECONDS),
                   pause=timedelta(seconds=settings.TRADEX_CIRCUIT_BREAKER_PAUSE_SECONDS))

    def observe(self, symbol: str, price: Decimal, at: datetime) -> list[Trip]:
        """Record a last-trade price; the trips it causes (none, or one)."""
        if not isinstance(price, Decimal):
            raise TypeError(f"price must be a Decimal, not {type(price).__name__}")  # never a float
        if not price > 0:
            return []  # not a trade price: nothing to measure
        band = self._bands.get(symbol)
        if band is None:
            band = self._bands[symbol] = PriceBand(self.window)
        if band.last_at is not None and at < band.last_at:
            at = band.last_at  # a late print counts as now, so the deques stay in time order
        band.advance(at)
        muted_until = self._muted_until.get(symbol)
        if muted_until is not None:
            if at < muted_until:
                band.add(at, price)
                return []
            del self._muted_until[symbol]
        trip = self._trip(symbol, band, price, at)
        if trip is not None:
            band.clear()
            self._muted_until[symbol] = at + self.pause
        band.add(at, price)
        return [trip] if trip is not None else []

    def _trip(self, symbol: str, band: PriceBand, price: Decimal, at: datetime) -> Trip | None:
        low, high = band.low, band.high
        if low is not None and price > low * (1 + self.threshold):
            return Trip(symbol=symbol, reference_price=low, price=price, at=at)
        if high is not None and price < high * (1 - self.threshold):
            return Trip(symbol=symbol, reference_price=high, price=price, at=at)
        return None

    def muted(self, symbol: str, at: datetime) -> bool:
        """True while `symbol` is in the pause after a trip."""
        until = self._muted_until.get(symbol)
        return until is not None and at < until

    def forget(self, symbol: str) -> None:
        """Drop a symbol's window and pause (e.g. staff lifted its halt early and want a fresh start)."""
        self._bands.pop(symbol, None)
        self._muted_until.pop(symbol, None)
