"""Client requests on a working order: cancel and replace."""
import uuid

from django.db import transaction
from django.utils import timezone

from accounts.services import cash_reserve
from compliance.services import audit_record
from portfolio.services import locate_reserve, position_hold
from risk.verdict import evaluate
from core.errors import Conflict, InvalidInput, NotFound, Refused
from core.vocabulary import OrderClass

from ..events import publish_trade_update
from ..models import Order, OutboxMessage
from ..state import OPEN_STATUSES, Status
from .locking import lock_for_order
from .fractional import has_house_part
from .placement import intent_of, located_need, locked_snapshot, placement_annotations, prices_for
from .request import parse_order_request, validate_client_order_id
from .reservations import reservation_release
from .order_classes import OCO, end_order
from .transition import move as _move

# An order held by the broker has not reached a venue: it is canceled or replaced on the spot.
HELD_AT_BROKER = {Status.ACCEPTED, Status.HELD}
REPLACEABLE = {Status.ACCEPTED, Status.NEW, Status.PARTIALLY_FILLED}


def _not_cancelable(order: Order) -> Refused:
    return Refused("order_not_cancelable", f"order is {order.status} and cannot be canceled", http_status=422)


@transaction.atomic(durable=True)
def order_cancel(*, account_id, order_id, actor: str) -> Order:
    """Ask for a cancel. Orders still at the broker end at once; orders at a venue go to
    pending_cancel and end when the venue confirms (a timeout is never a cancel)."""
    lo = lock_for_order(order_id, account_id=account_id)
    order = lo.order
    if order.status == Status.PENDING_CANCEL:
        return order  # already asked: idempotent
    if order.status not in OPEN_STATUSES or order.status == Status.PENDING_REPLACE:
        raise _not_cancelable(order)
    if order.order_class == OCO and order.parent_id is None:
        # Canceling an OCO cancels both exits: the stop leg is at the broker and ends now.
        for leg in lo.family.values():
            if leg.parent_id == order.pk and leg.status in HELD_AT_BROKER:
                end_order(lo, leg, Status.CANCELED, "order.canceled", "canceled", actor, hooks=False,
                          reason="parent canceled")
    if order.status in HELD_AT_BROKER:
        # Legs of a bracket/OTO parent end with it; a canceled exit leg's hold passes to its sibling.
        return end_order(lo, order, Status.CANCELED, "order.canceled", "canceled", actor)
    # At a venue: a bracket/OTO parent's legs wait for the venue's answer (a fill meanwhile sizes them).
    _move(order, Status.PENDING_CANCEL)
    OutboxMessage.objects.create(order=order, kind=OutboxMessage.Kind.CANCEL)
    order.save()
    audit_record(account=lo.account, actor=actor, action="order.pending_cancel", entity_type="order",
                 entity_id=order.pk, data={"status": order.status})
    publish_trade_update(order, "pending_cancel")
    return order


def order_cancel_all(*, account_id, actor: str) -> list[tuple]:
    """Cancel every open order, each in its own transaction. Returns (order id, http status, order)."""
    results = []
    ids = Order.objects.filter(account_id=account_id, status__in=OPEN_STATUSES).order_by("created_at").values_list("pk", flat=True)
    for order_id in ids:
        try:
            results.append((order_id, 200, order_cancel(account_id=account_id, order_id=order_id, actor=actor)))
        except Refused:
            results.append((order_id, 422, None))
    return results


def order_replace(*, account_id, order_id, actor: str, qty=None, limit_price=None, stop_price=None, trail=None,
                  time_in_force=None, client_order_id=None) -> Order:
    """Replace a working order with a new one (Alpaca PATCH /v2/orders/{id}). `qty` is the new
    total quantity, fills so far included (FIX OrderQty semantics). A request that changes
    nothing is refused: it would otherwise cancel the order and place the same one again."""
    if all(v is None or v == "" for v in (qty, limit_price, stop_price, trail, time_in_force, client_order_id)):
        raise InvalidInput("nothing_to_replace", "give at least one of qty, limit_price, stop_price, trail, "
                                                 "time_in_force or client_order_id")
    client_order_id = validate_client_order_id(client_order_id)
    original = Order.objects.filter(pk=order_id, account_id=account_id).first() if _is_uuid(order_id) else None
    if original is None:
        raise NotFound("order not found", reason="order_not_found")
    if original.notional is not None:
        raise InvalidInput("replace_notional_unsupported", "notional orders cannot be replaced")
    if original.order_class != OrderClass.SIMPLE:
        raise InvalidInput("replace_order_class_unsupported", f"{original.order_class} orders and their legs cannot be "
                                                              "replaced yet: cancel and place again")
    trail_price = trail if original.trail_price is not None else None
    trail_percent = trail if original.trail_percent is not None else None
    request, asset = parse_order_request(
        symbol=original.symbol, side=original.side, order_type=original.order_type,
        time_in_force=time_in_force or original.time_in_force, qty=qty if qty is not None else original.qty,
        limit_price=limit_price if limit_price is not None else original.limit_price,
        stop_price=stop_price if stop_price is not None else original.stop_price,
        trail_price=trail_price if trail_price is not None else original.trail_price,
        trail_percent=trail_percent if trail_percent is not None else original.trail_percent,
        extended_hours=original.extended_hours,
    )
    if has_house_part(original) or has_house_part(request):
        # The venue knows only a fractional order's whole shares; the house fills the rest.
        raise InvalidInput("replace_fractional_unsupported", "fractional orders cannot be replaced: cancel and place again")
    prices = prices_for(account_id, request.symbol)
    return _replace(account_id=account_id, order_id=original.pk, actor=actor, request=request, asset=asset,
                    client_order_id=client_order_id, prices=prices)


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False


@transaction.atomic(durable=True)
def _replace(*, account_id, order_id, actor, request, asset, client_order_id, prices) -> Order:
    lo = lock_for_order(order_id, account_id=account_id, related=("risk_limits",),
                        annotations=placement_annotations(account_id, request.symbol, client_order_id))
    account, original = lo.account, lo.order
    if original.status not in REPLACEABLE or lo.replacement is not None:
        raise Refused("order_not_replaceable", f"order is {original.status} and cannot be replaced", http_status=422)
    if request.qty <= original.filled_qty:
        raise InvalidInput("invalid_qty", f"qty must exceed the {original.filled_qty} shares already filled")
    if client_order_id and account.earlier_order_id is not None:
        raise Conflict("client_order_id_conflict", "client_order_id was already used")
    # Check the replacement as if the original were gone; it then holds only what it needs beyond
    # the original's holds, which stay with the original until the venue confirms (so a fill on
    # the original meanwhile releases from the original, and a refused replace gives back just the
    # extra).
    snapshot, _, market, limits = locked_snapshot(account, request.symbol, prices)
    snapshot = snapshot.without(reserved_cash=original.reserved_cash, held_qty=original.reserved_qty, symbol=request.symbol)
    intent = intent_of(request, asset, filled_qty=original.filled_qty)
    verdict = evaluate(snapshot, intent, market, limits)
    if not verdict.accepted:
        raise Refused(verdict.first.code, verdict.first.message)
    need = verdict.reservation
    at_broker = original.status in HELD_AT_BROKER
    extra_cash = need.cash if at_broker else max(need.cash - original.reserved_cash, 0)
    extra_qty = need.held_qty if at_broker else max(need.held_qty - original.reserved_qty, 0)
    located = located_need(intent, need)
    extra_located = located if at_broker else max(located - original.located_qty, 0)
    if extra_located and not locate_reserve(request.symbol, extra_located):
        raise Refused("hard_to_borrow", f"{request.symbol} is hard to borrow and today's located shares are taken")
    new_id = uuid.uuid4()
    replacement = Order.objects.create(
        id=new_id, account=account, client_order_id=client_order_id or str(new_id), request_hash=request.fingerprint(),
        asset=asset, symbol=request.symbol, side=request.side, order_type=request.order_type,
        time_in_force=request.time_in_force, qty=request.qty, limit_price=request.limit_price,
        stop_price=request.stop_price, trail_price=request.trail_price, trail_percent=request.trail_percent,
        extended_hours=request.extended_hours, replaces=original, reserved_cash=extra_cash, reserved_qty=extra_qty,
        located_qty=extra_located,
        filled_qty=original.filled_qty, filled_avg_price=original.filled_avg_price,
        status=Status.ACCEPTED if at_broker else Status.PENDING_NEW, submitted_at=timezone.now(),
    )
    cash_reserve(account, extra_cash)
    if extra_qty:
        position_hold(position=lo.position, qty=extra_qty)
    if at_broker:
        reservation_release(account=account, position=lo.position, order=original)
        _move(original, Status.REPLACED, replaced_at=timezone.now())
    else:
        _move(original, Status.PENDING_REPLACE)
        OutboxMessage.objects.create(order=original, kind=OutboxMessage.Kind.REPLACE,
                                     payload={"replacement_id": str(replacement.pk)})
    original.save()
    audit_record(account=account, actor=actor, action="order.replace_requested", entity_type="order",
                 entity_id=original.pk, data={"status": original.status, "replacement_id": replacement.pk})
    audit_record(account=account, actor=actor, action="order.placed", entity_type="order", entity_id=replacement.pk,
                 data={"replaces": original.pk, "qty": replacement.qty, "limit_price": replacement.limit_price,
                       "stop_price": replacement.stop_price, "status": replacement.status,
                       "reserved_cash": extra_cash, "reserved_qty": extra_qty, "located_qty": extra_located})
    publish_trade_update(original, "replaced" if at_broker else "pending_replace")
    return replacement
