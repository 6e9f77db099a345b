"""Live account updates on `marketdata.groups.account_group(account_id)`:

    {"type": "account.update", "data": {Alpaca account fields, "positions": [...]}}      after a fill
    {"type": "account.update", "data": {equity, long/short market value, P&L, margin}}   on price moves
    {"type": "account.update", "data": {..., "margin_call": {...}}}                       margin events

After a fill: `account_push_on_commit` (called by position_apply_fill inside the fill's
transaction) registers one on_commit per account and transaction; after commit the full snapshot
(portfolio.account_json: one query for the positions, one batch read of the quote cache) is handed
to the realtime publisher's thread (core.realtime).
On price moves the margin monitor (portfolio.monitor) sends its in-memory figures, conflated.

Who is watching: the trade-updates stream registers an account when a client listens to
`account_updates` (`watch_add`), so the monitor pushes price-move updates only for watched
accounts - 100,000 margin accounts ticking would otherwise mean 100,000 channel-layer sends per
price batch for nobody. The register is a Redis sorted set (account id -> last listen time) with
a per-process fallback for the in-memory cache of embedded mode.
"""
import logging
import time

from django.core.cache import cache
from django.db import transaction

from core.realtime import publisher
from marketdata.groups import account_group, user_group

from .account_json import account_payload

log = logging.getLogger(__name__)

WATCH_KEY = "portfolio:watched"
WATCH_COUNT_KEY = "portfolio:watch_count"  # hash: account id -> connections listening
WATCH_TTL_SECONDS = 24 * 3600  # a listen older than this (a crashed web process) no longer counts
_local_watch: dict[str, float] = {}


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
