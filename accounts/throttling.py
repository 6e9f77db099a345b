"""REST rate limits, as Alpaca's: per API key, TRADEX_API_RATE_LIMIT_PER_MINUTE requests a minute
(200) unless staff gave the key a tier of its own (ApiKey.rate_limit_per_minute, set in the admin,
audited); the web terminal's session-authenticated calls per user (TRADEX_API_SESSION_RATE_LIMIT_
PER_MINUTE). Every API response of an authenticated caller carries

    X-RateLimit-Limit      the requests a minute allowed
    X-RateLimit-Remaining  how many may be made now
    X-RateLimit-Reset      Unix time (s) when the allowance is whole again

and beyond it 429 {"code": 42910000, "reason": "rate_limited", "message": ...} with Retry-After.

A token bucket per caller: `limit` tokens, refilled at limit/60 a second, one per request; so a
burst of `limit` requests passes and the sustained rate is `limit` a minute. With Redis, one Lua
script reads, refills, takes and writes the bucket atomically (Redis's own clock: every web process
shares it), so concurrent requests from several processes never overdraw it; in embedded mode (no
Redis, one process) the same arithmetic on a dict under a lock.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from core import redis_client

from .models import ApiKey

# KEYS[1] the bucket; ARGV: capacity, tokens per ms. Returns {allowed, tokens left (floor), ms until
# full, ms until the next token}. Fractions travel as strings (Lua numbers become integers).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or cap
local at = tonumber(b[2]) or now
tokens = math.min(cap, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
local full_ms = math.ceil((cap - tokens) / rate)
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], full_ms + 1000)
return {allowed, math.floor(tokens), full_ms, math.ceil(math.max(0, 1 - tokens) / rate)}
"""
_KEY = redis_client.PREFIX + "ratelimit:{}"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # Unix seconds
    retry_after: int  # seconds until one more request may be made (0 when allowed)

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(self.reset_at)}


class _Buckets:
    def __init__(self):
        self._script = None
        self._lock = threading.Lock()
        self._local: dict[str, tuple[float, float]] = {}  # embedded mode: key -> (tokens, at)

    def take(self, key: str, per_minute: int) -> Decision:
        rate_ms = per_minute / 60_000
        if settings.REDIS_URL:
            if self._script is None:
                self._script = redis_client.client().register_script(_TAKE)
            allowed, remaining, full_ms, next_ms = self._script(keys=[_KEY.format(key)], args=[per_minute, repr(rate_ms)])
        else:
            allowed, remaining, full_ms, next_ms = self._take_local(key, per_minute, rate_ms)
        now = time.time()
        return Decision(bool(allowed), per_minute, int(remaining), math.ceil(now + int(full_ms) / 1000),
                        0 if allowed else max(1, math.ceil(int(next_ms) / 1000)))

    def _take_local(self, key: str, cap: int, rate_ms: float) -> tuple:
        now = time.monotonic() * 1000
        with self._lock:
            tokens, at = self._local.get(key, (cap, now))
            tokens = min(cap, tokens + max(0.0, now - at) * rate_ms)
            allowed = tokens >= 1
            if allowed:
                tokens -= 1
            self._local[key] = (tokens, now)
        return allowed, math.floor(tokens), math.ceil((cap - tokens) / rate_ms), math.ceil(max(0.0, 1 - tokens) / rate_ms)

    def forget(self, key: str) -> None:
        """Start this bucket afresh (tests: user ids repeat across test databases sharing a Redis)."""
        if settings.REDIS_URL:
            redis_client.client().delete(_KEY.format(key))
        with self._lock:
            self._local.pop(key, None)


buckets = _Buckets()


class ApiRateThrottle(BaseThrottle):
    """DRF throttle (REST_FRAMEWORK DEFAULT_THROTTLE_CLASSES). The decision is left on the Django
    request for RateLimitHeadersMiddleware, which writes the headers on whatever response follows."""

    def allow_request(self, request, view) -> bool:
        key = request.auth
        if isinstance(key, ApiKey):
            bucket = "key:" + key.key_id
            per_minute = key.rate_limit_per_minute or settings.TRADEX_API_RATE_LIMIT_PER_MINUTE
        elif request.user is not None and request.user.is_authenticated:
            bucket = f"user:{request.user.pk}"
            per_minute = settings.TRADEX_API_SESSION_RATE_LIMIT_PER_MINUTE
        else:
            return True  # refused by authentication anyway
        self.decision = buckets.take(bucket, per_minute)
        request._request.tradex_rate_limit = self.decision
        return self.decision.allowed

    def wait(self):
        return self.decision.retry_after


class RateLimitHeadersMiddleware:
    """Alpaca's X-RateLimit-* headers on every response whose request was counted."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        decision = getattr(request, "tradex_rate_limit", None)
        if decision is not None:
            for name, value in decision.headers().items():
                response[name] = value
        return response
