"""The latest-quote cache: short text values (a price, a quote's JSON) by key, written by the feed
once per batch and read in batches by order entry, valuation and the market-data REST.

Redis (REDIS_URL) with plain strings: one MSET per feed batch and one MGET per read, without
Django's cache layer, which validates and pickles every key (about 12 ms for 1,000 prices,
measured by bench/portfolio.py, against about 1 ms for the MGET itself). In embedded mode (no
Redis) a dict in this process, where the feed runs too (tradex/asgi.py).

Keys live under a prefix of their own; `clear()` empties them (tests).
"""
from __future__ import annotations

import threading
import time

from django.conf import settings

from core.redis_client import PREFIX
from core.redis_client import client as _redis

_local: dict[str, tuple[str, float | None]] = {}
_local_lock = threading.Lock()


def get_many(keys: list[str]) -> dict[str, str]:
    """{key: value} for the keys present."""
    if not keys:
        return {}
    if settings.REDIS_URL:
        values = _redis().mget([PREFIX + k for k in keys])
        return {k: v for k, v in zip(keys, values) if v is not None}

    now = time.monotonic()
    with _local_lock:
        found = {k: _local.get(k) for k in keys}
    return {k: v[0] for k, v in found.items() if v is not None and (v[1] is None or v[1] > now)}


def set_many(values: dict[str, str], *, ttl: float | None = None) -> None:
    """Write every value; `ttl` seconds of life, or for ever."""
    if not values:
        return
    if settings.REDIS_URL:
        client = _redis()
        if ttl is None:
            client.mset({PREFIX + k: v for k, v in values.items()})
        else:
            with client.pipeline(transaction=False) as pipe:
                for k, v in values.items():
                    pipe.set(PREFIX + k, v, px=int(ttl * 1000))
                pipe.execute()
        return

    expires = None if ttl is None else time.monotonic() + ttl
    with _local_lock:
        _local.update({k: (v, expires) for k, v in values.items()})


def clear() -> None:
    if settings.REDIS_URL:
        client = _redis()
        keys = list(client.scan_iter(PREFIX + "*", count=1000))
        if keys:
            client.delete(*keys)
    with _local_lock:
        _local.clear()
