"""Venue and symbol configuration: plain frozen values, no I/O.

Prices and quantities are `Decimal` (floats are refused); a venue's latency is carried here for the
FIX layer to apply — the core never sleeps.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from core.wire.listing import SymbolSpec, reference_specs, require_decimal  # noqa: F401  (re-exported)

MAX_VENUES = 15
MIN_LATENCY_MS, MAX_LATENCY_MS = 2, 50


@dataclass(frozen=True, kw_only=True)
class VenueConfig:
    """One simulated exchange. `seed` drives the reference-price walk, which is the same for every
    venue given the same seed; the venue's own noise is seeded by (seed, name)."""

    name: str
    port: int
    latency_ms: int = 5
    fee_per_share: Decimal
    symbols: tuple[str, ...]
    seed: int
    journal_dir: str
    feed_port: int | None = None
    # The address the FIX acceptor and the feed listen on: loopback unless configured
    # (run_venues passes TRADEX_VENUE_BIND_HOST).
    bind_host: str = "127.0.0.1"
    # Extras (defaulted): journal durability, circuit breaker and market-maker shape.
    journal_fsync: bool = False
    # Snapshot (and start a new journal segment) once the records applied since the last one took
    # this long to apply — a restart redoes them — or the segment reaches this size; 0 = never.
    snapshot_replay_budget_s: float = 1.0
    snapshot_max_bytes: int = 64 << 20
    breaker_move: Decimal = Decimal("0.10")
    breaker_window_s: float = 300.0
    breaker_pause_s: float = 300.0
    makers_per_symbol: int = 3
    maker_levels: int = 5
    # The reference walk (walk.py): its interval, and the moment it equals the reference prices
    # (venues that share seed and anchor quote around the same prices; None: the first step).
    walk_step_s: float = 0.25
    walk_anchor: datetime | None = None

    def __post_init__(self) -> None:
        require_decimal("fee_per_share", self.fee_per_share)
        require_decimal("breaker_move", self.breaker_move)
        if not MIN_LATENCY_MS <= self.latency_ms <= MAX_LATENCY_MS:
            raise ValueError(f"latency_ms must be within {MIN_LATENCY_MS}..{MAX_LATENCY_MS}")
        if not self.name:
            raise ValueError("venue name must be non-empty (it prefixes order ids and ExecIDs)")
        if not isinstance(self.symbols, tuple):
            object.__setattr__(self, "symbols", tuple(self.symbols))


def _venue_name(index: int) -> str:
    return "SIM" + chr(ord("A") + index)


def default_venues(count: int = 3, *, base_port: int = 9870, symbols: Sequence[str], journal_dir: str,
                   seed: int = 42, walk_anchor: datetime | None = None) -> list[VenueConfig]:
    """`count` venues SIMA, SIMB, ... on consecutive ports, each listing every symbol, with latencies
    spread over 2..50 ms and distinct per-share fees. They share `seed` and `walk_anchor`, hence the
    same walk (give an anchor when they may start stepping at different moments)."""
    if not 1 <= count <= MAX_VENUES:
        raise ValueError(f"count must be within 1..{MAX_VENUES}")
    venues = []
    for i in range(count):
        latency = MIN_LATENCY_MS + round(i * (MAX_LATENCY_MS - MIN_LATENCY_MS) / max(count - 1, 1))
        venues.append(VenueConfig(
            name=_venue_name(i), port=base_port + i, latency_ms=latency,
            fee_per_share=Decimal("0.0010") + Decimal("0.0002") * i,
            symbols=tuple(symbols), seed=seed, journal_dir=journal_dir, walk_anchor=walk_anchor,
        ))
    return venues
