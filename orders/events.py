"""Trade updates: numbered and stored in the transaction that made the change, pushed to the
account's channel group only after commit (invariant 5: a client is never told about a change
that could still roll back).

Each update is a TradeUpdate row with a per-account `seq` (1, 2, 3 … with no gap), written by one
statement under the account lock every caller holds. The stream (orders.consumers) forwards the
pushed messages and fills any gap from the rows, so a client that reconnects with the last seq it
saw misses nothing, and a push lost by the channel layer is recovered by the next one.

Sends go through the realtime publisher (core.realtime): one long-lived event loop on a daemon
thread, so the request thread only hands the message over instead of waiting for Redis.
"""
import functools
import logging
from datetime import datetime, timedelta
from decimal import Decimal

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.fields import DateTimeField

from marketdata.selectors import asset_for_order
from core.api import dec_str
from core.realtime import publisher

from .models import Order, TradeUpdate
from .serializers import OrderSerializer

log = logging.getLogger(__name__)

# Rows older than this may be pruned (trade_updates_prune); a client resuming from before them is
# told to resynchronise over REST. Each account's latest row is always kept.
DEFAULT_RETENTION_DAYS = 30

_INSERT = (
    f"INSERT INTO {TradeUpdate._meta.db_table} (account_id, seq, event, payload, created_at) "
    f"SELECT %s, COALESCE(MAX(seq), 0) + 1, %s, %s{{cast}}, %s FROM {TradeUpdate._meta.db_table} "
    "WHERE account_id = %s RETURNING seq"
)
# PostgreSQL takes the payload as jsonb; embedded SQLite stores JSON as text and UUIDs as hex.
_INSERT_SQL = {"postgresql": _INSERT.replace("{cast}", "::jsonb"), "sqlite": _INSERT.replace("{cast}", "")}


def trade_updates_group(account_id) -> str:
    return f"trade_updates.{account_id}"


def order_payload(order: Order) -> dict:
    """The order as the REST API returns it (Alpaca's order JSON, what alpaca-py's Order parses)."""
    if not Order.asset.is_cached(order):
        # The venue paths lock the order without its asset; the per-process asset cache spares a
        # query per update under the account lock.
        asset = asset_for_order(order.symbol)
        if asset is not None and asset.pk == order.asset_id:
            order.asset = asset
    return _order_serializer().to_representation(order)


@functools.cache
def _order_serializer() -> OrderSerializer:
    """One serializer, its fields bound once: building them per call cost 0.5 ms of the order path
    (to_representation only reads the bound fields, so threads can share it)."""
    serializer = OrderSerializer()
    serializer.fields  # noqa: B018  (binds the fields now)
    return serializer


_timestamp = DateTimeField().to_representation


def _extra_value(value):
    if isinstance(value, Decimal):
        return dec_str(value)
    if isinstance(value, datetime):
        return _timestamp(value)
    return None if value is None else str(value)


def publish_trade_update(order: Order, event: str, **extra) -> int:
    """Record a trade update in the current transaction and push it after commit. Returns its seq.

    Caller holds the account lock (accounts.locks.lock_account): it is what makes max(seq) + 1
    safe. `extra` holds Alpaca's optional fields (price, qty, position_qty, execution_id,
    timestamp); decimals are written as Alpaca writes them ("100", "0.5").
    """
    now = timezone.now()
    data = {"event": event, "order": order_payload(order), "timestamp": _timestamp(now)}
    data.update({k: _extra_value(v) for k, v in extra.items()})
    account_id = order.account_id if connection.vendor == "postgresql" else order.account_id.hex
    now_param = now if connection.vendor == "postgresql" else connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL[connection.vendor],
                       [account_id, event, orjson.dumps(data).decode(), now_param, account_id])
        seq = cursor.fetchone()[0]
    message = {"type": "trade.update", "seq": seq, **data}
    group = trade_updates_group(order.account_id)
    transaction.on_commit(lambda: publisher.send(group, message))
    return seq


def trade_updates_prune(*, now=None) -> int:
    """Delete trade updates older than settings.TRADE_UPDATES_RETENTION_DAYS, keeping each account's
    latest row (its seq is where the numbering goes on). Safe beside writers: the latest row of
    this statement's snapshot survives, and rows written since are not seen. Returns rows deleted.
    Run daily by beat (orders/tasks.py, orders/schedule.py)."""
    days = getattr(settings, "TRADE_UPDATES_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)
    before = (now or timezone.now()) - timedelta(days=days)
    table = TradeUpdate._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} t WHERE t.created_at < %s "
            f"AND t.seq < (SELECT MAX(m.seq) FROM {table} m WHERE m.account_id = t.account_id)",
            [before],
        )
        return cursor.rowcount

