"""A small per-process memo whose entries are good for a fixed number of seconds.

For rows that change rarely and are read on a hot path (assets and venues at order entry, the
stream's known symbols): one query a second instead of one per request. Each process has its own;
another process sees a change when its entry ages out, or sooner if the writer clears this one.

    VENUES = TTLCache(1.0)
    VENUES.get_or_load("all", lambda: tuple(Venue.objects.all()))
    VENUES.clear()

Thread-safe: the lock is held only to read or write the dict, never while `load` runs, so two
threads that miss at once may both load (and the later one's value stays). An entry's age counts
from just before its load started. `clock` (seconds, monotonic) is injectable for tests.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

MISSING: Any = object()  # what lookup() returns for an absent or expired entry


class TTLCache:
    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: dict[Hashable, tuple[float, Any]] = {}  # key -> (stored at, value)

    def lookup(self, key: Hashable, *, max_age: float | None = None) -> Any:
        """The value stored for `key` less than `max_age` (default: the cache's seconds) ago, or
        MISSING."""
        max_age = self.seconds if max_age is None else max_age
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or now - entry[0] >= max_age:
            return MISSING
        return entry[1]

    def put(self, key: Hashable, value: Any, *, at: float | None = None) -> None:
        """Store `value` for `key`, its age counted from `at` (default: now)."""
        stamp = self.clock() if at is None else at
        with self._lock:
            self._entries[key] = (stamp, value)

    def get_or_load(self, key: Hashable, load: Callable[[], Any], *,
                    keep: Callable[[Any], bool] | None = None) -> Any:
        """The fresh value for `key`, else `load()`'s, stored unless `keep` says no (e.g. a
        lookup that found nothing, when the key is client input and must not grow the cache)."""
        value = self.lookup(key)
        if value is not MISSING:
            return value
        started = self.clock()
        value = load()
        if keep is None or keep(value):
            self.put(key, value, at=started)
        return value

    def keys(self) -> set:
        """The keys stored, fresh or not (what the cache holds, for tests and size checks)."""
        with self._lock:
            return set(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
