"""The symbols a client may subscribe to: every Asset's, cached per process.

Reloaded every REFRESH_SECONDS, and sooner (at most once per MISS_REFRESH_SECONDS) when a client
names a symbol the cache lacks, so an asset added a moment ago is found while made-up symbols
cost at most one query a second per process.
"""
from __future__ import annotations

import asyncio
import weakref

from channels.db import database_sync_to_async

from core.ttl_cache import MISSING, TTLCache
from marketdata.selectors import asset_symbols

REFRESH_SECONDS = 60.0
MISS_REFRESH_SECONDS = 1.0

_symbols = TTLCache(REFRESH_SECONDS)  # one entry, ALL: the set of every Asset's symbol
ALL = "all"
_locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> lock
_load = database_sync_to_async(asset_symbols)


async def known_symbols(wanted=()) -> frozenset[str]:
    lock = _locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with lock:
        symbols = _symbols.lookup(ALL)
        if symbols is MISSING or (
                any(s not in symbols for s in wanted) and _symbols.lookup(ALL, max_age=MISS_REFRESH_SECONDS) is MISSING):
            symbols = await _load()
            _symbols.put(ALL, symbols)
        return symbols


def clear() -> None:
    """Forget the cached set (tests)."""
    _symbols.clear()
