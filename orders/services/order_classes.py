"""Order classes (bracket, OCO, OTO) and broker-held orders going out to a venue. Helpers called
inside the order services' transactions: the caller holds the account, position and order locks,
the order's family included (orders/services/locking.py: `LockedOrder.family`).

Shapes (Alpaca's):
- bracket: the entry (parent) + a take-profit limit leg + a stop-loss leg (stop, stop_limit, or -
  TradeX's extension - a trailing stop). The legs wait as `held` until the entry fills.
- oto: the entry + one leg (either of those).
- oco: the take-profit limit order (parent) + a stop-loss leg, on an existing position; both are
  live at once, the stop at the broker.

The two exit orders of a bracket (its legs) or of an OCO (parent and leg) are *siblings*. The
invariant: never both working at a venue. The take-profit works at a venue; the stop is held by
the broker. When the stop triggers while its take-profit works at a venue, the take-profit is
canceled first (an outbox CANCEL) and the stop's order goes out only when the venue confirms that
cancel (order_venue_canceled). If the take-profit fills instead, the stop is canceled (complete
fill) or reduced to what is left (partial fill), in the fill's transaction.

Reservations: exit legs of a long entry sell the shares the entry bought; the pair holds them once,
on one order: the take-profit while it lives (else the only leg). When an exit order ends while
its sibling is open, what it holds passes to the sibling (position.held_qty unchanged), so
`Position.held_qty` always equals the sum of `Order.reserved_qty` over open orders. Buy-to-cover
legs of a short bracket hold nothing (they only reduce exposure); a buy OCO's parent holds the cash
its risk check reserved, passed to the stop if that is what goes out.
"""
import uuid
from datetime import datetime

from django.utils import timezone

from compliance.services import audit_record
from core import values
from core.errors import Refused
from core.vocabulary import OrderClass, OrderSide, OrderType, TimeInForce
from marketdata import clock
from portfolio.services import position_hold

from ..events import publish_trade_update
from ..models import Order, OutboxMessage
from ..state import OPEN_STATUSES, Status
from ..venue_selection import venue_for
from .fractional import HOUSE_VENUE, quote_price, route_new, whole_shares
from .locking import LockedOrder
from .reservations import reservation_release
from .transition import move

STOP_TYPES = frozenset({OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP})
AT_BROKER = frozenset({Status.ACCEPTED, Status.HELD})
SIMPLE, BRACKET, OCO, OTO = OrderClass.SIMPLE, OrderClass.BRACKET, OrderClass.OCO, OrderClass.OTO

WAITING_TRIGGER = "waiting for the trigger price"
WAITING_PARENT = "waiting for the parent order's fill"
WAITING_SIBLING = "waiting for the venue to confirm the cancel of the take-profit leg"
QUEUED = "market closed: queued for the next session"


def members(lo: LockedOrder) -> dict:
    return {lo.order.pk: lo.order, **lo.family}


def exit_sibling(order: Order, family: dict) -> Order | None:
    """The other exit order of a bracket's legs or of an OCO pair, if any."""
    if order.order_class == OCO:
        if order.parent_id is not None:
            return family.get(order.parent_id)
        return next((o for o in family.values() if o.parent_id == order.pk), None)
    if order.order_class == BRACKET and order.parent_id is not None:
        return next((o for o in family.values() if o.parent_id == order.parent_id and o.pk != order.pk), None)
    return None


def _audit(lo: LockedOrder, order: Order, action: str, actor: str, **data) -> None:
    audit_record(account=lo.account, actor=actor, action=action, entity_type="order", entity_id=order.pk,
                 data={"status": order.status, "filled_qty": order.filled_qty, **data})


def pass_hold(lo: LockedOrder, order: Order) -> None:
    """`order` is ending: what it holds for an exit pair passes to its open sibling (shares up to
    what the sibling still sells); the rest is released by the caller."""
    sibling = exit_sibling(order, members(lo))
    if sibling is None or not sibling.is_open or sibling.side != order.side:
        return
    room = (sibling.qty - sibling.filled_qty) - sibling.reserved_qty if sibling.qty is not None else 0
    qty = max(min(order.reserved_qty, room), 0)
    if qty or order.reserved_cash:
        order.reserved_qty -= qty
        sibling.reserved_qty += qty
        sibling.reserved_cash += order.reserved_cash
        order.reserved_cash = 0
        sibling.save()


def end_order(lo: LockedOrder, order: Order, target: str, action: str, event: str, actor: str, *,
              hooks: bool = True, at: datetime | None = None, **fields) -> Order:
    """Move an order to a terminal status: its exit-pair hold passes to the sibling, the rest is
    released; then (hooks) its legs and its triggered sibling follow."""
    now = at or timezone.now()
    stamp = {Status.CANCELED: "canceled_at", Status.EXPIRED: "expired_at", Status.REJECTED: "failed_at"}[target]
    move(order, target, **{stamp: now}, **{k: v for k, v in fields.items() if k == "reject_reason"})
    pass_hold(lo, order)
    reservation_release(account=lo.account, position=lo.position, order=order)
    order.save()
    _audit(lo, order, action, actor, **fields)
    publish_trade_update(order, event)
    if hooks:
        after_end(lo, order, actor=actor, at=now)
    return order


def request_cancel(lo: LockedOrder, order: Order, actor: str, **payload) -> None:
    """Ask the venue to cancel `order` (it ends when the venue confirms)."""
    move(order, Status.PENDING_CANCEL)
    order.save()
    OutboxMessage.objects.create(order=order, kind=OutboxMessage.Kind.CANCEL, payload=payload)
    _audit(lo, order, "order.pending_cancel", actor, **payload)
    publish_trade_update(order, "pending_cancel")


def after_end(lo: LockedOrder, order: Order, *, actor: str, at: datetime) -> None:
    """A parent that ended activates its held legs for what it filled (or cancels them if it filled
    nothing); a sibling whose stop had triggered while this one worked at the venue goes out now."""
    family = members(lo)
    legs = [o for o in family.values() if o.parent_id == order.pk and o.status == Status.HELD]
    if legs:
        if order.filled_qty > 0:
            activate_legs(lo, order, legs, at=at, actor=actor)
        else:
            for leg in legs:
                end_order(lo, leg, Status.CANCELED, "order.canceled", "canceled", actor, hooks=False, at=at,
                          reason=f"parent {order.status} unfilled")
    sibling = exit_sibling(order, family)
    if sibling is not None and sibling.status == Status.ACCEPTED and sibling.triggered_at is not None:
        route_held(lo, sibling, at=at, actor=actor)


def after_fill(lo: LockedOrder, order: Order, *, actor: str, at: datetime) -> None:
    """After a fill on a working order: a filled entry activates its legs; an exit order's sibling
    is canceled (complete fill) or reduced to what is left to sell (partial fill)."""
    family = members(lo)
    legs = [o for o in family.values() if o.parent_id == order.pk and o.status == Status.HELD]
    if legs and order.status == Status.FILLED:
        activate_legs(lo, order, legs, at=at, actor=actor)
    sibling = exit_sibling(order, family)
    if sibling is None or not sibling.is_open or order.qty is None:
        return
    if order.status == Status.FILLED:
        if sibling.status in AT_BROKER:
            end_order(lo, sibling, Status.CANCELED, "order.canceled", "canceled", actor, hooks=False, at=at,
                      reason=f"sibling {order.pk} filled")
        elif sibling.status != Status.PENDING_CANCEL:  # never expected: both exits at a venue
            request_cancel(lo, sibling, actor, oco=str(order.pk))
        return
    left = sibling.filled_qty + (order.qty - order.filled_qty)
    if sibling.status in AT_BROKER and sibling.qty is not None and sibling.qty > left:
        sibling.qty = left
        sibling.save()
        _audit(lo, sibling, "order.leg_reduced", actor, qty=left, sibling=order.pk)


def activate_legs(lo: LockedOrder, parent: Order, legs: list[Order], *, at: datetime, actor: str) -> None:
    """The entry filled `parent.filled_qty`: the legs take that quantity; sell legs hold the shares
    once, on the take-profit; stop legs start watching prices; the take-profit goes to a venue."""
    qty = parent.filled_qty
    holder = next((leg for leg in legs if leg.order_type == OrderType.LIMIT), legs[0])
    for leg in legs:
        leg.qty, leg.submitted_at = qty, at
    if holder.side == OrderSide.SELL:
        position = lo.position
        hold = min(qty, max(position.qty - position.held_qty, 0))
        if hold:
            position_hold(position=position, qty=hold)
            holder.reserved_qty += hold
    for leg in sorted(legs, key=lambda o: o.order_type in STOP_TYPES, reverse=True):  # stops first
        move(leg, Status.ACCEPTED)
        if leg.order_type in STOP_TYPES:
            leg.hold_reason = WAITING_TRIGGER
            if leg.order_type == OrderType.TRAILING_STOP:
                leg.hwm = parent.filled_avg_price
            leg.save()
            _audit(lo, leg, "order.activated", actor, qty=qty, parent=parent.pk)
            publish_trade_update(leg, "accepted")
        elif not clock.can_route(at, extended_hours=False):
            leg.hold_reason = QUEUED
            leg.save()
            _audit(lo, leg, "order.activated", actor, qty=qty, parent=parent.pk, hold_reason=QUEUED)
            publish_trade_update(leg, "accepted")
        else:
            _audit(lo, leg, "order.activated", actor, qty=qty, parent=parent.pk)
            route_held(lo, leg, at=at, actor=actor)


def overrides_for(order: Order) -> dict:
    """What the FIX bridge sends instead of the order's own fields (see docs/orders-triggers.md)."""
    if order.order_type in (OrderType.STOP, OrderType.TRAILING_STOP):
        return {"ord_type": OrderType.MARKET, **({"tif": TimeInForce.DAY} if order.time_in_force == TimeInForce.GTC else {})}
    if order.order_type == OrderType.STOP_LIMIT:
        return {"ord_type": OrderType.LIMIT, "price": format(order.limit_price.normalize(), "f")}
    if order.time_in_force == TimeInForce.OPG:
        return {"tif": TimeInForce.IOC}
    if order.time_in_force == TimeInForce.CLS:
        return {"tif": TimeInForce.DAY}
    return {}


def _held(lo: LockedOrder, order: Order, reason: str, actor: str, **data) -> str:
    """Keep the order at the broker and say why (audited when the reason changes, so a retry every
    tick does not flood the trail)."""
    if order.hold_reason != reason:
        order.hold_reason = reason
        _audit(lo, order, "order.held", actor, reason=reason, **data)
    order.save()
    return "waiting_sibling" if reason == WAITING_SIBLING else "deferred"


def route_held(lo: LockedOrder, order: Order, *, at: datetime, actor: str) -> str:
    """Send a broker-held order (status accepted) to a venue now: outbox NEW with the overrides,
    accepted -> pending_new. Returns "routed", "waiting_sibling" (its take-profit must be canceled
    first), "deferred" (no venue: it stays held and the runner retries; a stop is never dropped)
    or "canceled" (a take-profit whose stop triggered never goes out)."""
    family = members(lo)
    sibling = exit_sibling(order, family)
    if sibling is not None and sibling.is_open:
        if order.order_type in STOP_TYPES:
            if sibling.status in AT_BROKER:
                end_order(lo, sibling, Status.CANCELED, "order.canceled", "canceled", actor, hooks=False, at=at,
                          reason=f"stop {order.pk} triggered")
            elif sibling.status == Status.PENDING_CANCEL:
                return _held(lo, order, WAITING_SIBLING, actor)
            else:
                request_cancel(lo, sibling, actor, oco=str(order.pk))
                return _held(lo, order, WAITING_SIBLING, actor, sibling=sibling.pk)
        elif sibling.triggered_at is not None and sibling.status == Status.ACCEPTED:
            end_order(lo, order, Status.CANCELED, "order.canceled", "canceled", actor, hooks=False, at=at,
                      reason=f"stop {sibling.pk} triggered")
            route_held(lo, sibling, at=at, actor=actor)
            return "canceled"
    house_only = order.qty is not None and whole_shares(order.qty - order.filled_qty) == 0
    price = quote_price(order.symbol, order.side) if house_only else None
    if house_only and price is None:
        return _held(lo, order, f"price_unavailable: no market price for {order.symbol} to fill the fraction at", actor)
    try:
        venue = HOUSE_VENUE if house_only else venue_for(order.symbol)
    except Refused as exc:
        return _held(lo, order, f"{exc.reason}: {exc.message}"[:200], actor)
    overrides = overrides_for(order)
    move(order, Status.PENDING_NEW)
    order.venue, order.hold_reason = venue, ""
    order.save()
    _audit(lo, order, "order.routed", actor, venue=venue, overrides=overrides, qty=order.qty)
    publish_trade_update(order, "pending_new")
    # Whole shares to the venue (outbox NEW), a fraction to the house's desk (orders/services/fractional.py).
    route_new(lo, order, payload=overrides, actor=actor, at=at, price=price)
    return "routed"


def trailing_level(order: Order, water_mark) -> object:
    """A trailing stop's stop price for a water mark."""
    if order.trail_price is not None:
        level = water_mark - order.trail_price if order.side == OrderSide.SELL else water_mark + order.trail_price
    else:
        factor = order.trail_percent / 100
        level = water_mark * (1 - factor) if order.side == OrderSide.SELL else water_mark * (1 + factor)
    return values.price(level)  # the price tick (settings.TRADEX_PRICE_PLACES)


def leg_specs(request) -> list[dict]:
    """The child orders an order-class request creates (the parent is the request itself)."""
    exit_side = request.side if request.order_class == OCO else (
        OrderSide.SELL if request.side == OrderSide.BUY else OrderSide.BUY)
    specs = []
    if request.tp_limit_price is not None and request.order_class != OCO:
        specs.append(dict(side=exit_side, order_type=OrderType.LIMIT, limit_price=request.tp_limit_price))
    if request.sl_stop_price is not None:
        specs.append(dict(side=exit_side, order_type=OrderType.STOP_LIMIT if request.sl_limit_price is not None else OrderType.STOP,
                          stop_price=request.sl_stop_price, limit_price=request.sl_limit_price))
    elif request.sl_trail_price is not None or request.sl_trail_percent is not None:
        specs.append(dict(side=exit_side, order_type=OrderType.TRAILING_STOP, trail_price=request.sl_trail_price,
                          trail_percent=request.sl_trail_percent))
    return specs


def legs_create(*, account, parent: Order, request, asset, last_price, at: datetime, actor: str) -> list[Order]:
    """Create the legs of an order-class parent, in the parent's transaction (account lock held).
    Bracket/OTO legs wait as `held`; an OCO's stop leg is live at the broker at once."""
    legs = []
    for spec in leg_specs(request):
        live = request.order_class == OCO
        leg_id = uuid.uuid4()
        leg = Order.objects.create(
            id=leg_id, account=account, client_order_id=str(leg_id), request_hash=parent.request_hash, asset=asset,
            symbol=parent.symbol, time_in_force=parent.time_in_force, order_class=parent.order_class, qty=parent.qty,
            parent=parent, status=Status.ACCEPTED if live else Status.HELD, reserved_cash=0, reserved_qty=0,
            submitted_at=at, hold_reason=WAITING_TRIGGER if live else WAITING_PARENT,
            hwm=last_price if spec["order_type"] == OrderType.TRAILING_STOP else None, **spec)
        audit_record(account=account, actor=actor, action="order.placed", entity_type="order", entity_id=leg.pk,
                     data={"parent": parent.pk, "order_class": leg.order_class, "side": leg.side,
                           "type": leg.order_type, "qty": leg.qty, "limit_price": leg.limit_price,
                           "stop_price": leg.stop_price, "trail_price": leg.trail_price,
                           "trail_percent": leg.trail_percent, "status": leg.status})
        legs.append(leg)
    return legs


__all__ = ["members", "exit_sibling", "end_order", "request_cancel", "after_end", "after_fill", "activate_legs",
           "route_held", "overrides_for", "trailing_level", "leg_specs", "legs_create", "OPEN_STATUSES"]
