"""Trade updates to the account's channel group, sent only after commit (invariant 5): a client is
never told about a change that could still roll back.

Sends go through one long-lived event loop on a daemon thread: async_to_sync would build a new
loop and a new Redis connection for every order (8 ms of the order path, measured by bench/), and
the request thread only hands the message over instead of waiting for Redis.
"""
import asyncio
import logging
import threading

from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)


def trade_updates_group(account_id) -> str:
    return f"trade_updates.{account_id}"


def order_payload(order) -> dict:
    return {
        "id": str(order.pk),
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side,
        "type": order.order_type,
        "qty": None if order.qty is None else str(order.qty),
        "notional": None if order.notional is None else str(order.notional),
        "filled_qty": str(order.filled_qty),
        "filled_avg_price": None if order.filled_avg_price is None else str(order.filled_avg_price),
        "status": order.status,
        "reject_reason": order.reject_reason,
    }


def publish_trade_update(order, event: str, **extra) -> None:
    """Queue a trade update for after the current transaction commits."""
    message = {"type": "trade.update", "event": event, "order": order_payload(order),
               **{k: str(v) for k, v in extra.items()}}
    group = trade_updates_group(order.account_id)
    transaction.on_commit(lambda: _publisher.send(group, message))


class _Publisher:
    """Owns the loop the channel layer's connections are bound to. Messages for one group are sent
    in the order they were committed, because the loop runs the sends in submission order."""

    def __init__(self):
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="trade-updates", daemon=True).start()
                self._loop = loop
            return self._loop

    def send(self, group: str, message: dict):
        """Hand the message to the loop and return at once; the returned future lets tests wait."""
        return asyncio.run_coroutine_threadsafe(self._send(group, message), self._ensure_loop())

    @staticmethod
    async def _send(group: str, message: dict) -> None:
        # The change is committed whatever happens here; a lost notification is recovered by the
        # client's snapshot on reconnect, so a channel-layer failure is logged, not raised.
        try:
            await get_channel_layer().group_send(group, message)
        except Exception:
            log.exception("trade update to %s not delivered", group)


_publisher = _Publisher()
