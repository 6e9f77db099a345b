"""Reads of orders, always scoped to one account: another account's order is simply not found."""
import uuid
from dataclasses import dataclass
from datetime import datetime

from accounts.models import Account
from compliance.models import AuditEvent
from compliance.selectors import audit_chain_breaks, audit_events_for_entity
from core.errors import NotFound

from .models import Order, TradeUpdate
from .state import OPEN_STATUSES, TERMINAL_STATUSES

_STATUS_FILTER = {"open": OPEN_STATUSES, "closed": TERMINAL_STATUSES}


def _orders(account: Account):
    # replaced_by is a reverse one-to-one the serializer may read: join it rather than query per row.
    return Order.objects.filter(account=account).select_related("asset", "replaced_by")


def order_get(*, account: Account, order_id) -> Order:
    try:
        pk = uuid.UUID(str(order_id))
    except ValueError:
        raise NotFound(f"order {order_id} not found", reason="order_not_found") from None
    order = _orders(account).filter(pk=pk).first()
    if order is None:
        raise NotFound(f"order {order_id} not found", reason="order_not_found")
    return order


def order_get_by_client_id(*, account: Account, client_order_id: str) -> Order:
    order = _orders(account).filter(client_order_id=client_order_id).first()
    if order is None:
        raise NotFound(f"order with client_order_id {client_order_id!r} not found", reason="order_not_found")
    return order


def order_list(*, account: Account, status: str = "open", limit: int = 50, after: datetime | None = None,
               until: datetime | None = None, direction: str = "desc", symbols: list[str] | None = None,
               side: str | None = None) -> list[Order]:
    """Alpaca's GET /v2/orders: newest first by default; after/until bound the submission time."""
    qs = _orders(account)
    if status in _STATUS_FILTER:
        qs = qs.filter(status__in=sorted(_STATUS_FILTER[status]))
    if after is not None:
        qs = qs.filter(created_at__gt=after)
    if until is not None:
        qs = qs.filter(created_at__lte=until)
    if symbols:
        qs = qs.filter(symbol__in=symbols)
    if side:
        qs = qs.filter(side=side)
    ordering = ("created_at", "id") if direction == "asc" else ("-created_at", "-id")
    return list(qs.order_by(*ordering)[:limit])


@dataclass(frozen=True)
class OrderAudit:
    order_id: uuid.UUID
    events: list[AuditEvent]
    verified: bool


def order_audit(*, account: Account, order_id) -> OrderAudit:
    """The order's events (its executions are recorded against the order too), and whether the
    account's whole hash chain still verifies."""
    order = order_get(account=account, order_id=order_id)
    events = audit_events_for_entity(entity_type="order", entity_id=order.pk)
    return OrderAudit(order_id=order.pk, events=events, verified=audit_chain_breaks(chain=str(account.pk)) == [])


def trade_update_last_seq(*, account_id) -> int:
    """The seq of the account's latest trade update (0 before the first)."""
    last = TradeUpdate.objects.filter(account_id=account_id).order_by("-seq").values_list("seq", flat=True).first()
    return last or 0


def trade_updates_after(*, account_id, after_seq: int, upto_seq: int | None = None, limit: int = 500) -> list[dict]:
    """Stream frames' data of the account's trade updates with after_seq < seq (<= upto_seq), in seq
    order, at most `limit`: each the stored payload with its "seq"."""
    rows = TradeUpdate.objects.filter(account_id=account_id, seq__gt=after_seq)
    if upto_seq is not None:
        rows = rows.filter(seq__lte=upto_seq)
    return [{**payload, "seq": seq} for seq, payload in rows.order_by("seq").values_list("seq", "payload")[:limit]]
