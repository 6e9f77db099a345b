"""Circuit breaker: trips when a price moves more than `move` (a fraction) within a rolling window.

Monotonic deques keep the window's minimum and maximum, so each observation is O(1) amortised."""
from __future__ import annotations

from collections import deque
from datetime import datetime
from decimal import Decimal


class CircuitBreaker:
    def __init__(self, *, move: Decimal, window_s: float) -> None:
        self.move, self.window_s = move, window_s
        self._mins: deque[tuple[float, Decimal]] = deque()  # prices increasing
        self._maxs: deque[tuple[float, Decimal]] = deque()  # prices decreasing
        self.trip_reason: str | None = None

    def observe(self, ts: datetime, price: Decimal) -> str | None:
        """Record a price; return (and keep in trip_reason) why it trips, or None."""
        t = ts.timestamp()
        horizon = t - self.window_s
        for window in (self._mins, self._maxs):
            while window and window[0][0] < horizon:
                window.popleft()
        while self._mins and self._mins[-1][1] >= price:
            self._mins.pop()
        self._mins.append((t, price))
        while self._maxs and self._maxs[-1][1] <= price:
            self._maxs.pop()
        self._maxs.append((t, price))
        low, high = self._mins[0][1], self._maxs[0][1]
        self.trip_reason = None
        if price > low * (1 + self.move):
            self.trip_reason = f"circuit_breaker: up {(price / low - 1):.2%} from {low} within {self.window_s:g}s"
        elif price < high * (1 - self.move):
            self.trip_reason = f"circuit_breaker: down {(1 - price / high):.2%} from {high} within {self.window_s:g}s"
        return self.trip_reason

    def dump(self) -> dict:
        return {"mins": [[t, str(p)] for t, p in self._mins], "maxs": [[t, str(p)] for t, p in self._maxs],
                "trip": self.trip_reason}

    def restore(self, state: dict) -> None:
        self._mins = deque((t, Decimal(p)) for t, p in state["mins"])
        self._maxs = deque((t, Decimal(p)) for t, p in state["maxs"])
        self.trip_reason = state["trip"]

    def reset(self) -> None:
        self._mins.clear()
        self._maxs.clear()
        self.trip_reason = None
