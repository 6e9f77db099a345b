"""Which venue an order goes to.

Until smart order routing exists, an order goes whole to ONE venue (never split across several:
that is how the seed's platform over-filled). The rule:

1. only venues whose FIX session is up and that staff have not halted, and that list the symbol;
2. the lowest fee per share;
3. among equal fees, a stable choice by symbol (crc32), so one symbol's orders keep going to one
   venue and queue priority there means something.

Venue rows are read through a one-second per-process cache: the order path does not pay a query
for a table that changes only when a session drops. An order routed in that second to a venue that
has just gone down is rejected by the bridge with the same code, `venue_unavailable`.
"""
import threading
import time
import zlib

from core.errors import Refused

from .models import Venue

CACHE_SECONDS = 1.0
_cache_lock = threading.Lock()
_cache: tuple[float, tuple[Venue, ...]] = (0.0, ())


def venues_cached() -> tuple[Venue, ...]:
    global _cache
    now = time.monotonic()
    with _cache_lock:
        if now - _cache[0] < CACHE_SECONDS:
            return _cache[1]
    rows = tuple(Venue.objects.order_by("name"))
    with _cache_lock:
        _cache = (now, rows)
    return rows


def venue_cache_clear() -> None:
    global _cache
    with _cache_lock:
        _cache = (0.0, ())


def venue_for(symbol: str) -> str:
    """The venue an order in `symbol` goes to, or Refused with a code the user can act on."""
    listing = [v for v in venues_cached() if v.lists(symbol)]
    if not listing:
        raise Refused("venue_unavailable", f"no venue lists {symbol}")
    open_ = [v for v in listing if not v.halted]
    if not open_:
        raise Refused("venue_halted", f"every venue that lists {symbol} is halted by staff")
    up = [v for v in open_ if v.session == Venue.Session.UP]
    if not up:
        raise Refused("venue_unavailable", f"no venue session for {symbol} is up; try again shortly")
    cheapest = min(v.fee_per_share for v in up)
    ties = [v for v in up if v.fee_per_share == cheapest]
    return ties[zlib.crc32(symbol.encode()) % len(ties)].name
