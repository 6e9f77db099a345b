"""The symbols a client may subscribe to: every Asset's, cached per process.

Reloaded every REFRESH_SECONDS, and sooner (at most once per MISS_REFRESH_SECONDS) when a client
names a symbol the cache lacks, so an asset added a moment ago is found while made-up symbols
cost at most one query a second per process.
"""
from __future__ import annotations

import asyncio
import time
import weakref

from channels.db import database_sync_to_async

from marketdata.selectors import asset_symbols

REFRESH_SECONDS = 60.0
MISS_REFRESH_SECONDS = 1.0

_state = {"symbols": frozenset(), "loaded_at": float("-inf")}
_locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> lock
_load = database_sync_to_async(asset_symbols)


async def known_symbols(wanted=()) -> frozenset[str]:
    lock = _locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with lock:
        age = time.monotonic() - _state["loaded_at"]
        missing = any(s not in _state["symbols"] for s in wanted)
        if age > REFRESH_SECONDS or (missing and age > MISS_REFRESH_SECONDS):
            _state["symbols"] = await _load()
            _state["loaded_at"] = time.monotonic()
        return _state["symbols"]


def clear() -> None:
    """Forget the cached set (tests)."""
    _state["loaded_at"] = float("-inf")
