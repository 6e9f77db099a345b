"""Trade updates to the account's channel group, sent only after commit (invariant 5): a client is
never told about a change that could still roll back."""
import logging

from asgiref.sync import async_to_sync
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
    transaction.on_commit(lambda: _send(group, message))


def _send(group: str, message: dict) -> None:
    # The change is committed whatever happens here; a lost notification is recovered by the
    # client's snapshot on reconnect, so a channel-layer failure is logged, not raised.
    try:
        async_to_sync(get_channel_layer().group_send)(group, message)
    except Exception:
        log.exception("trade update to %s not delivered", group)
