"""How many stream connections each user holds, across every web process: one registry per
stream (market data at /v2/{sip,iex,test}, trade updates at /stream), each counted on its own.

The cap (TRADEX_STREAM_MAX_CONNECTIONS_PER_USER; Alpaca's market data answers 406 "connection
limit exceeded") makes a client multiplex over one connection instead of opening one per
subscription, the fan-out that brings a stream server down. 0 switches it off.

Redis (REDIS_URL): a sorted set per user, member = connection id, score = when its lease lapses.
One Lua script drops lapsed leases, counts, and adds, so concurrent connects from several
processes cannot overshoot. A keeper thread per process renews its live leases every third of
LEASE_SECONDS in one pipeline; a process that dies stops renewing, and its leases lapse by
themselves, so a crash never locks a user out for longer than LEASE_SECONDS. Embedded mode (no
Redis, one process): the same bookkeeping in a dict.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid

from asgiref.sync import sync_to_async
from django.conf import settings

from core import redis_client

log = logging.getLogger(__name__)
LEASE_SECONDS = 60.0

# KEYS[1] the user's set; ARGV: now, lease expiry, limit, connection id, key ttl (ms)
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""


class Lease:
    __slots__ = ("user_id", "connection_id")

    def __init__(self, user_id):
        self.user_id, self.connection_id = str(user_id), uuid.uuid4().hex


class _Registry:
    def __init__(self, stream: str):
        self._key = redis_client.PREFIX + "stream:conns:" + stream + ":{}"
        self._lock = threading.Lock()
        self._live: dict[str, Lease] = {}  # this process's leases, renewed by the keeper
        self._local: dict[str, dict[str, float]] = {}  # embedded mode: user -> {connection: expiry}
        self._keeper: threading.Thread | None = None
        self._acquire_script = None

    # --- Redis or dict -------------------------------------------------------------------------

    def _try_add(self, lease: Lease, limit: int, now: float) -> bool:
        expiry = now + LEASE_SECONDS
        if settings.REDIS_URL:
            client = redis_client.client()
            if self._acquire_script is None:
                self._acquire_script = client.register_script(_ACQUIRE)
            return bool(self._acquire_script(keys=[self._key.format(lease.user_id)],
                                             args=[now, expiry, limit, lease.connection_id, int(LEASE_SECONDS * 2000)]))
        with self._lock:
            leases = {c: e for c, e in self._local.get(lease.user_id, {}).items() if e > now}
            if len(leases) >= limit:
                self._local[lease.user_id] = leases
                return False
            leases[lease.connection_id] = expiry
            self._local[lease.user_id] = leases
            return True

    def _remove(self, lease: Lease) -> None:
        if settings.REDIS_URL:
            redis_client.client().zrem(self._key.format(lease.user_id), lease.connection_id)
            return
        with self._lock:
            self._local.get(lease.user_id, {}).pop(lease.connection_id, None)

    def renew_all(self) -> int:
        """Push every live lease of this process LEASE_SECONDS ahead. Returns how many."""
        with self._lock:
            leases = list(self._live.values())
        if not leases:
            return 0
        expiry = time.time() + LEASE_SECONDS
        if settings.REDIS_URL:
            with redis_client.client().pipeline(transaction=False) as pipe:
                for lease in leases:
                    pipe.zadd(self._key.format(lease.user_id), {lease.connection_id: expiry}, xx=True)
                    pipe.pexpire(self._key.format(lease.user_id), int(LEASE_SECONDS * 2000))
                pipe.execute()
        else:
            with self._lock:
                for lease in leases:
                    held = self._local.get(lease.user_id, {})
                    if lease.connection_id in held:
                        held[lease.connection_id] = expiry
        return len(leases)

    # --- what the consumer calls ---------------------------------------------------------------

    def acquire(self, user_id, limit: int) -> Lease | None:
        """A lease for one more connection of this user, or None if the user is at the limit."""
        lease = Lease(user_id)
        if not self._try_add(lease, limit, time.time()):
            return None
        with self._lock:
            self._live[lease.connection_id] = lease
            if self._keeper is None:
                self._keeper = threading.Thread(target=self._keep, name="stream-leases", daemon=True)
                self._keeper.start()
        return lease

    def release(self, lease: Lease) -> None:
        with self._lock:
            self._live.pop(lease.connection_id, None)
        self._remove(lease)

    # What the consumers call (through sync_to_async): the cap protects the service, so Redis
    # trouble admits the connection and is logged rather than refusing every client.

    def acquire_or_admit(self, user_id, limit: int) -> Lease | None:
        try:
            return self.acquire(user_id, limit)
        except Exception:
            log.exception("stream leases: unavailable; admitting the connection")
            return Lease(user_id)  # not registered: releasing it changes nothing

    def release_quietly(self, lease: Lease) -> None:
        try:
            self.release(lease)
        except Exception:  # it lapses by itself after LEASE_SECONDS
            log.exception("stream leases: release failed")

    async def admit(self, consumer, user_id) -> bool | None:
        """Give `consumer` (a stream consumer with `lease` and `closing` attributes) a place under
        TRADEX_STREAM_MAX_CONNECTIONS_PER_USER for `user_id`. True: admitted (or no cap, or it
        already holds one); False: the user is at the cap; None: the client left while we asked,
        and its place is given back."""
        limit = settings.TRADEX_STREAM_MAX_CONNECTIONS_PER_USER
        if not limit or consumer.lease is not None:
            return True
        consumer.lease = await sync_to_async(self.acquire_or_admit, thread_sensitive=False)(user_id, limit)
        if consumer.lease is None:
            return False
        if consumer.closing:
            await self.leave(consumer)
            return None
        return True

    async def leave(self, consumer) -> None:
        """The consumer's connection ended: give its place back (if it had one)."""
        lease, consumer.lease = consumer.lease, None
        if lease is not None:
            await sync_to_async(self.release_quietly, thread_sensitive=False)(lease)

    def _keep(self) -> None:
        wake = threading.Event()  # never set: its timeout is the renewal period
        while True:
            wake.wait(LEASE_SECONDS / 3)
            try:
                self.renew_all()
            except Exception:  # Redis away for a while: leases lapse only after a full LEASE_SECONDS
                log.exception("stream leases: renewal failed")


market_data = _Registry("md")
trade_updates = _Registry("tu")
