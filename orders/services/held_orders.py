"""Broker-held orders leaving the broker: a stop's trigger, a session release (opg at the open, cls
before the close, orders queued while the market was closed), and day expiry. Called by the
trigger runner (orders/trigger_runner.py); each is one durable transaction that locks the order
(and its class family) in the global order and re-checks, under the lock, that the order is still
held and due: two runners firing the same order produce one outbox row.
"""
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from marketdata import clock
from core.values import to_decimal
from core.vocabulary import OrderSide, OrderType, TimeInForce

from ..models import Order
from ..state import OPEN_STATUSES, Status
from .locking import lock_for_order
from .order_classes import STOP_TYPES, _audit, end_order, request_cancel, route_held, trailing_level

ROUTED, DEFERRED, WAITING_SIBLING = "routed", "deferred", "waiting_sibling"
NOT_HELD, NOT_CROSSED, NOT_DUE, EXPIRED, EXPIRE_REQUESTED = "not_held", "not_crossed", "not_due", "expired", "expire_requested"


def stop_level(order: Order, water_mark: Decimal | None) -> Decimal:
    if order.order_type == OrderType.TRAILING_STOP:
        return trailing_level(order, water_mark)
    return order.stop_price


def crossed(order: Order, price: Decimal, level: Decimal) -> bool:
    return price <= level if order.side == OrderSide.SELL else price >= level


def _water_mark(order: Order, seen: Decimal | None, price: Decimal) -> Decimal:
    """The most protective of the runner's in-memory water mark, the persisted one and the price."""
    marks = [m for m in (seen, order.hwm, price) if m is not None]
    return max(marks) if order.side == OrderSide.SELL else min(marks)


@transaction.atomic(durable=True)
def order_trigger(*, order_id, price, at: datetime, water_mark=None, actor: str = "trigger") -> str:
    """A last-trade `price` at `at` crossed a held stop's threshold (trailing stops: computed from
    `water_mark`, the runner's high/low since placement). Under the lock: still held and untriggered,
    still crossed? Then record the trigger (audit `order.triggered` with the price) and send it:
    stop and trailing stop as market, stop_limit as limit at its limit price. With no venue up the
    order stays held, triggered, with the reason, and the runner retries (order_release)."""
    price = to_decimal(price, field="price")
    water_mark = None if water_mark is None else to_decimal(water_mark, field="water_mark")
    lo = lock_for_order(order_id)
    order = lo.order
    if order.status != Status.ACCEPTED or order.order_type not in STOP_TYPES or order.triggered_at is not None:
        return NOT_HELD
    mark = _water_mark(order, water_mark, price) if order.order_type == OrderType.TRAILING_STOP else None
    level = stop_level(order, mark)
    if not crossed(order, price, level):
        return NOT_CROSSED
    order.triggered_at, order.trigger_price = at, price
    if mark is not None:
        order.hwm, order.stop_price = mark, level
    _audit(lo, order, "order.triggered", actor, trigger_price=price, stop_price=level, water_mark=mark, at=at)
    return route_held(lo, order, at=at, actor=actor)


def release_due(order: Order, at: datetime) -> tuple[str, datetime | None]:
    """("release" | "expire" | "wait", when) for a held order without a price trigger, by the
    session clock."""
    submitted = order.submitted_at or order.created_at
    if order.time_in_force in (TimeInForce.OPG, TimeInForce.CLS):
        release, expire = (clock.opg_window if order.time_in_force == TimeInForce.OPG else clock.cls_window)(submitted)
        if at >= expire:
            return "expire", expire
        return ("release", release) if at >= release else ("wait", release)
    if order.order_type in STOP_TYPES:  # only a price sends it; once triggered, it is due at once
        return ("release", at) if order.triggered_at is not None else ("wait", None)
    # market/limit: queued while the market was closed, or an activated take-profit that found no venue
    if clock.can_route(at, extended_hours=order.extended_hours):
        return "release", at
    return "wait", clock.release_at(at, extended_hours=order.extended_hours)


@transaction.atomic(durable=True)
def order_release(*, order_id, at: datetime, actor: str = "session") -> str:
    """Send a held order whose time has come: an opg order at the open (as IOC), a cls order just
    before the close (as a day order), an order queued while the market was closed, a triggered
    stop or an activated take-profit that found no venue before. An opg/cls order whose window
    passed expires."""
    lo = lock_for_order(order_id)
    order = lo.order
    if order.status != Status.ACCEPTED:
        return NOT_HELD
    action, _ = release_due(order, at)
    if action == "wait":
        return NOT_DUE
    if action == "expire":
        end_order(lo, order, Status.EXPIRED, "order.expired", "expired", actor, at=at,
                  reason=f"{order.time_in_force} window passed")
        return EXPIRED
    return route_held(lo, order, at=at, actor=actor)


@transaction.atomic(durable=True)
def order_expire(*, order_id, at: datetime, actor: str = "session") -> str:
    """End a day order at its session's close (extended-hours orders: at the end of after-hours).
    At the broker it expires at once; at a venue it goes to pending_cancel with an outbox CANCEL
    marked {"expire": true}, and expires when the venue confirms. A held leg ends with its parent."""
    lo = lock_for_order(order_id)
    order = lo.order
    if order.status not in OPEN_STATUSES or order.time_in_force != TimeInForce.DAY or order.status == Status.HELD:
        return NOT_HELD
    due = clock.day_expiry(order.submitted_at or order.created_at, extended_hours=order.extended_hours)
    if at < due:
        return NOT_DUE
    if order.status == Status.ACCEPTED:
        end_order(lo, order, Status.EXPIRED, "order.expired", "expired", actor, at=at, reason="day order at the close")
        return EXPIRED
    if order.status in (Status.PENDING_CANCEL, Status.PENDING_REPLACE):
        return NOT_DUE  # the venue is answering another request; the next pass retries
    request_cancel(lo, order, actor, expire=True)
    return EXPIRE_REQUESTED


def day_orders_due(at: datetime) -> list:
    """Ids of day orders whose session has ended by `at` (the runner's pass at each boundary).
    One query on the open-orders index."""
    regular = clock.last_boundary(at, extended_hours=False)
    extended = clock.last_boundary(at, extended_hours=True)
    statuses = sorted(OPEN_STATUSES - {Status.HELD, Status.PENDING_CANCEL})
    rows = Order.objects.filter(status__in=statuses, time_in_force=TimeInForce.DAY).filter(
        extended_hours=False, submitted_at__lt=regular) | Order.objects.filter(
        status__in=statuses, time_in_force=TimeInForce.DAY, extended_hours=True, submitted_at__lt=extended)
    return list(rows.order_by("submitted_at").values_list("pk", flat=True))


__all__ = ["order_trigger", "order_release", "order_expire", "day_orders_due", "release_due", "stop_level",
           "crossed"]
