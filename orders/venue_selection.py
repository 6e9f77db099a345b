"""Which venue an order goes to.

Until smart order routing exists, an order goes whole to ONE venue (never split across several,
which can over-fill it). The rule:

1. only venues whose FIX session is up and that staff have not halted, and that list the symbol;
2. the lowest fee per share;
3. among equal fees, a stable choice by symbol (crc32), so one symbol's orders keep going to one
   venue and queue priority there means something.

Venue rows are read through a one-second per-process cache: the order path does not pay a query
for a table that changes only when a session drops. An order routed in that second to a venue that
has just gone down is rejected by the bridge with the same code, `venue_unavailable`.
"""
import zlib

from core.errors import Refused
from core.ttl_cache import TTLCache

from .models import Venue

CACHE_SECONDS = 1.0
_venues = TTLCache(CACHE_SECONDS)  # one entry, ALL: every venue row by name
ALL = "all"


def venues_cached() -> tuple[Venue, ...]:
    return _venues.get_or_load(ALL, lambda: tuple(Venue.objects.order_by("name")))


def venue_cache_clear() -> None:
    _venues.clear()


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
