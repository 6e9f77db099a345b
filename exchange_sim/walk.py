"""The reference-price walk: one geometric Brownian motion per symbol, a pure function of time,
shared by every venue with the same seed; each venue adds its own bounded noise.

Time is cut into intervals of `interval_s` (0.25 s); interval k's shared log-offset is
`volatility * (W(k) - W(anchor)) + shift`, where W is a Brownian motion with unit variance per
interval drawn from (seed, symbol) alone (brownian() below), `anchor` the interval where the walk
equals the symbol's reference price (VenueConfig.walk_anchor, shared by the venues of one
run_venues; else the venue's first step) and `shift` a forced move (set_reference). So two venues
stepped at the same moment see the same price whenever they started, however often each was
stepped, and across restarts — the walk used to be indexed by each venue's own step count, which
drifted apart between venues (and jumped at restarts), so their quotes crossed.

A venue's reference is the shared price times exp(noise), |noise| < 2 * spec.noise (bounded, so
the makers' spread can cover it). With the shared prices of this interval and the next, the walk
also gives the makers a bid cap and an ask floor (makers.py): every venue's bids stay strictly
below both prices and its asks strictly above both, so no two venues stepped within one interval
of each other lock or cross.

The internal state is float log-offsets; every price that leaves the walk is a Decimal on the tick.
"""
from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from statistics import NormalDist

from exchange_sim.config import SymbolSpec

LEVELS = 40  # W is defined on intervals 0 .. 2**40 (0.25 s each: 8,700 years from 1970)
SPAN = 1 << LEVELS
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
NOISE_BOUND = 2  # a venue's noise stays within NOISE_BOUND * spec.noise (log units)
_STANDARD = NormalDist()
_MICROSECOND = timedelta(microseconds=1)


def normal(*key: object) -> float:
    """A standard normal draw determined by `key` alone (no generator state)."""
    digest = hashlib.blake2b(":".join(map(str, key)).encode(), digest_size=8).digest()
    return _STANDARD.inv_cdf(((int.from_bytes(digest, "big") >> 11) + 0.5) / (1 << 53))


@lru_cache(maxsize=1 << 16)
def brownian(seed: int, symbol: str, k: int) -> float:
    """W(k): a Brownian motion with unit variance per interval, W(0) = 0, as a pure function of
    (seed, symbol, k). Lévy's construction: the value at k = odd * 2**j is drawn given the values
    at k -/+ 2**j (a Brownian bridge's midpoint), so any k costs at most 2 * LEVELS draws and
    neighbouring k share nearly all of them (the cache)."""
    if k == 0:
        return 0.0
    if k == SPAN:
        return math.sqrt(SPAN) * normal("W", seed, symbol, k)
    half = k & -k  # 2**j
    mid = (brownian(seed, symbol, k - half) + brownian(seed, symbol, k + half)) / 2
    return mid + math.sqrt(half / 2) * normal("W", seed, symbol, k)


class ReferenceWalk:
    def __init__(self, specs: dict[str, SymbolSpec], *, seed: int, venue: str, interval_s: float = 0.25,
                 anchor: datetime | None = None) -> None:
        self.specs, self.seed, self.venue = specs, seed, venue
        self.interval_us = round(interval_s * 1_000_000)
        self.config_anchor = None if anchor is None else self.index(anchor)
        self.anchor = self.config_anchor  # else set by the first step (or forced move)
        self.step_index = 0
        self.shifts = {symbol: 0.0 for symbol in specs}
        self.log_offsets = {symbol: 0.0 for symbol in specs}
        self.references = {symbol: spec.reference_price for symbol, spec in specs.items()}
        self.caps: dict[str, tuple[int, int]] = {}  # symbol -> (highest bid tick, lowest ask tick)

    def index(self, now: datetime) -> int:
        return (now - EPOCH) // _MICROSECOND // self.interval_us

    def shared(self, symbol: str, k: int, anchor: int) -> float:
        spec = self.specs[symbol]
        w = brownian(self.seed, symbol, k) - brownian(self.seed, symbol, anchor)
        return float(spec.volatility) * w + self.shifts[symbol]

    def next_state(self, now: datetime) -> dict:
        """The state at `now`, without applying it (the caller journals it first)."""
        k = self.index(now)
        anchor = self._anchor(k)
        offsets, references, caps = {}, {}, {}
        for symbol, spec in self.specs.items():
            offset = self.shared(symbol, k, anchor)
            after = self.shared(symbol, k + 1, anchor)
            noise = float(spec.noise) * NOISE_BOUND * math.tanh(normal("noise", self.seed, self.venue, symbol, k) / 2)
            offsets[symbol] = offset
            references[symbol] = str(self.on_tick(spec, offset + noise))
            caps[symbol] = self.cap(spec, offset, after)
        return {"k": k, "a": anchor, "offsets": offsets, "refs": references, "caps": caps}

    def apply(self, state: dict) -> None:
        self.step_index = state["k"]
        self.anchor = state.get("a", self.anchor)
        self.log_offsets.update(state["offsets"])
        self.references.update({s: Decimal(p) for s, p in state["refs"].items()})
        self.caps.update({s: tuple(c) for s, c in state.get("caps", {}).items()})

    def force(self, symbol: str, log_offset: float, now: datetime) -> None:
        """Make the shared walk pass through `log_offset` at `now` (set_reference)."""
        k = self.index(now)
        self.anchor = self._anchor(k)
        self.shifts[symbol] = 0.0
        self.shifts[symbol] = log_offset - self.shared(symbol, k, self.anchor)
        self.log_offsets[symbol] = log_offset

    def _anchor(self, k: int) -> int:
        """The configured anchor (all venues of a run share it), else the journaled one, else k."""
        if self.config_anchor is not None:
            return self.config_anchor
        return k if self.anchor is None else self.anchor

    def dump(self) -> dict:
        return {"k": self.step_index, "a": self.anchor, "shifts": self.shifts, "offsets": self.log_offsets,
                "refs": {s: str(p) for s, p in self.references.items()}, "caps": self.caps}

    def restore(self, state: dict) -> None:
        self.apply(state)
        self.shifts.update(state["shifts"])

    def offset_for(self, symbol: str, price: Decimal) -> float:
        """The log-offset that puts the shared walk at `price` (to force a move)."""
        return math.log(price / self.specs[symbol].reference_price)

    @staticmethod
    def cap(spec: SymbolSpec, offset: float, after: float) -> tuple[int, int]:
        """(highest bid, lowest ask) in ticks strictly inside both shared prices (now and next)."""
        ticks = float(spec.reference_price / spec.tick)
        low, high = sorted((ticks * math.exp(offset), ticks * math.exp(after)))
        return math.ceil(low) - 1, math.floor(high) + 1

    @staticmethod
    def on_tick(spec: SymbolSpec, log_offset: float) -> Decimal:
        ticks = round(float(spec.reference_price / spec.tick) * math.exp(log_offset))
        return spec.tick * max(ticks, 1)

