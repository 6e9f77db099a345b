"""Live account updates on `marketdata.groups.account_group(account_id)`:

    {"type": "account.update", "data": {Alpaca account fields, "positions": [...]}}      after a fill
    {"type": "account.update", "data": {equity, long/short market value, P&L, margin}}   on price moves
    {"type": "account.update", "data": {..., "margin_call": {...}}}                       margin events

After a fill: `account_push_on_commit` (called by position_apply_fill inside the fill's
transaction) registers one on_commit per account and transaction; after commit the full snapshot
(one query for the positions, one batch read of the quote cache) is handed to the publisher thread.
On price moves the margin monitor (portfolio.monitor) sends its in-memory figures, conflated.

Who is watching: the trade-updates stream registers an account when a client listens to
`account_updates` (`watch_add`), so the monitor pushes price-move updates only for watched
accounts - 100,000 margin accounts ticking would otherwise mean 100,000 channel-layer sends per
price batch for nobody. The register is a Redis sorted set (account id -> last listen time) with
a per-process fallback for the in-memory cache of embedded mode.
"""
import asyncio
import logging
import threading
import time

from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import transaction

from marketdata.groups import account_group, user_group

log = logging.getLogger(__name__)

WATCH_KEY = "portfolio:watched"
WATCH_COUNT_KEY = "portfolio:watch_count"  # hash: account id -> connections listening
WATCH_TTL_SECONDS = 24 * 3600  # a listen older than this (a crashed web process) no longer counts
_local_watch: dict[str, float] = {}


class _Publisher:
    """One long-lived loop thread for channel-layer sends (as orders.events does: a loop per send
    would build a Redis connection per message)."""

    def __init__(self):
        self._loop = None
        self._lock = threading.Lock()

    def _ensure_loop(self):
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="account-updates", daemon=True).start()
                self._loop = loop
            return self._loop

    def send(self, group: str, message: dict):
        return asyncio.run_coroutine_threadsafe(self._send(group, message), self._ensure_loop())

    def send_many(self, messages: list[tuple[str, dict]]):
        return asyncio.run_coroutine_threadsafe(self._send_many(messages), self._ensure_loop())

    @staticmethod
    async def _send(group: str, message: dict) -> None:
        try:
            await get_channel_layer().group_send(group, message)
        except Exception:
            log.exception("account update to %s not delivered", group)

    async def _send_many(self, messages):
        for group, message in messages:
            await self._send(group, message)


publisher = _Publisher()


def account_payload(account_id, *, positions: bool = True) -> dict:
    """The account as GET /v2/account shows it, with its positions as GET /v2/positions does."""
    from accounts.api.account import TradeAccountSerializer
    from accounts.models import Account

    from .selectors import account_snapshot, position_json

    snap = account_snapshot(account=Account.objects.get(pk=account_id))
    data = dict(TradeAccountSerializer(snap).data)
    data["id"] = str(data["id"])
    if positions:
        data["positions"] = [position_json(v) for v in snap.positions]
    return data


def account_message(data: dict) -> dict:
    return {"type": "account.update", "data": data}


def account_push(account_id):
    """Read the account's snapshot now and push it (returns the send's future, for tests)."""
    try:
        data = account_payload(account_id)
    except Exception:
        log.exception("account snapshot of %s for a push failed", account_id)
        return None
    return publisher.send(account_group(account_id), account_message(data))


def account_push_on_commit(account_id) -> None:
    """Push the account's snapshot after the current transaction commits (never on rollback), if
    a client is listening: the fill path (the FIX bridge) pays one Redis HGET for an account
    nobody watches, not a snapshot read."""
    def run():
        if is_watched(account_id):
            account_push(account_id)

    transaction.on_commit(run)


def user_notify(user_id, kind: str, data: dict) -> None:
    publisher.send(user_group(user_id), {"type": "user.notify", "kind": kind, "data": data})


# --- who is watching ---------------------------------------------------------------------------

def _redis():
    client = getattr(cache, "_cache", None)
    return client.get_client(write=True) if client is not None and hasattr(client, "get_client") else None


def watch_add(account_id, channel_name: str) -> None:
    """A connection listens to the account's updates (one member per connection, so one closing
    does not end another's)."""
    member, now = f"{account_id}|{channel_name}", time.time()
    r = _redis()
    if r is None:
        _local_watch[member] = now
    elif r.zadd(WATCH_KEY, {member: now}):
        r.hincrby(WATCH_COUNT_KEY, str(account_id), 1)


def watch_remove(account_id, channel_name: str) -> None:
    member = f"{account_id}|{channel_name}"
    r = _redis()
    if r is None:
        _local_watch.pop(member, None)
    elif r.zrem(WATCH_KEY, member):
        if r.hincrby(WATCH_COUNT_KEY, str(account_id), -1) <= 0:
            r.hdel(WATCH_COUNT_KEY, str(account_id))


def is_watched(account_id) -> bool:
    """Whether a connection listens to the account (a crashed web process may leave a count
    behind: that costs pushes nobody reads, never a missed one)."""
    r = _redis()
    if r is None:
        prefix = f"{account_id}|"
        return any(m.startswith(prefix) for m in _local_watch)
    return int(r.hget(WATCH_COUNT_KEY, str(account_id)) or 0) > 0


def watched_accounts() -> set[str]:
    since = time.time() - WATCH_TTL_SECONDS
    r = _redis()
    if r is None:
        members = [m for m, t in _local_watch.items() if t >= since]
    else:
        members = [m.decode() if isinstance(m, bytes) else m for m in r.zrangebyscore(WATCH_KEY, since, "+inf")]
    return {m.split("|", 1)[0] for m in members}
