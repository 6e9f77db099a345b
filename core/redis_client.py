"""The one Redis client of a process (REDIS_URL), for the quote cache, rate limits and stream
leases. Created on first use; a changed REDIS_URL (override_settings in tests, where an outage is a
URL nobody answers at) takes effect at the next call, as it does for channels' layers.

Keys of TradeX live under PREFIX.
"""
from __future__ import annotations

import threading

import redis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

PREFIX = "tradex:"

_client: redis.Redis | None = None
_client_lock = threading.Lock()


def client() -> redis.Redis:
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    return _client


@receiver(setting_changed)
def _forget_client(*, setting, **kwargs) -> None:
    global _client
    if setting == "REDIS_URL":
        with _client_lock:
            _client = None
