"""What the venues tell us: acknowledgements, rejections, cancels, replaces, expiries and fills.
Called by the FIX bridge; each is one transaction that takes its locks in the global order."""
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from compliance.services import audit_record
from core.errors import InvalidInput
from core.values import BadDecimal, to_decimal

from ..events import publish_trade_update
from ..models import Execution, Order, OutboxMessage
from ..state import Status
from .fills import fill_locked
from .fractional import HOUSE_VENUE, desk_due, has_house_part, house_complete
from .locking import LockedOrder, lock_for_order
from .order_classes import after_fill, end_order, exit_sibling, members
from .reservations import reservation_release
from .transition import move as _move

# A venue that still does not know a message after this many sends is not sent it again.
MAX_SEND_ATTEMPTS = 3
# The message an order's pending status waits on.
AWAITED_KIND = {Status.PENDING_NEW: OutboxMessage.Kind.NEW, Status.PENDING_CANCEL: OutboxMessage.Kind.CANCEL,
                Status.PENDING_REPLACE: OutboxMessage.Kind.REPLACE}

def _audit(lo: LockedOrder, order: Order, action: str, actor: str, **data) -> None:
    audit_record(account=lo.account, actor=actor, action=action, entity_type="order", entity_id=order.pk,
                 data={"status": order.status, "filled_qty": order.filled_qty, **data})


def _positive(value, field: str) -> Decimal:
    try:
        result = to_decimal(value, field=field)
    except BadDecimal as exc:
        raise InvalidInput(f"invalid_{field}", str(exc)) from exc
    if result <= 0:
        raise InvalidInput(f"invalid_{field}", f"{field} must be positive")
    return result


@transaction.atomic(durable=True)
def execution_apply(*, venue: str, exec_id: str, order_id, qty, price, transacted_at, leaves_qty=None,
                    actor: str = "venue") -> Execution | None:
    """Apply one fill exactly once (invariant 3): a replay of (venue, exec_id) returns None and
    changes nothing. In one transaction: the execution, the ledger, the position, the order and
    its reservation, the day-trade counter and the audit event (orders/services/fills.py); and,
    when this fill completes the venue part of a fractional order, the house's fill of the rest
    (orders/services/fractional.py).

    A fill is never refused: it happened at the venue. One that arrives after the order ended, or
    takes it past its quantity, is applied and flagged in the audit trail for reconciliation.
    """
    qty, price = _positive(qty, "qty"), _positive(price, "price")
    lo = lock_for_order(order_id)
    if Execution.objects.filter(venue=venue, exec_id=exec_id).exists():
        return None
    order = lo.order
    filled_after = order.filled_qty + qty
    if has_house_part(order):
        # The venue saw only the whole shares: its LeavesQty says nothing of the house's part.
        complete = filled_after >= order.qty
    elif leaves_qty is not None:
        complete = to_decimal(leaves_qty, field="leaves_qty") <= 0
    else:
        complete = order.qty is not None and filled_after >= order.qty
    execution, flags = fill_locked(lo, venue=venue, exec_id=exec_id, qty=qty, price=price,
                                   transacted_at=transacted_at, complete=complete, actor=actor)
    if venue != HOUSE_VENUE and desk_due(order):
        # The venue part is done: the house fills the fraction at its average price.
        house_complete(lo, order, price=order.filled_avg_price, actor=actor, at=timezone.now())
    if "late_fill_after" not in flags:
        # Order classes, in the fill's transaction: a filled entry activates its legs; an exit
        # order's fill cancels or reduces its sibling.
        after_fill(lo, order, actor=actor, at=timezone.now())
    return execution


@transaction.atomic(durable=True)
def order_venue_acknowledged(*, order_id, venue: str, venue_order_id: str, actor: str = "venue") -> Order:
    lo = lock_for_order(order_id)
    order = lo.order
    order.venue, order.venue_order_id = venue, venue_order_id
    if order.status in (Status.PENDING_NEW, Status.ACCEPTED):
        _move(order, Status.NEW)
    order.save()
    _audit(lo, order, "order.acknowledged", actor, venue=venue, venue_order_id=venue_order_id)
    publish_trade_update(order, "new")
    return order


def _end(lo: LockedOrder, order: Order, target: str, action: str, event: str, actor: str, **fields) -> Order:
    """Move an order to a terminal status and release everything it holds; an exit order's hold
    passes to its open sibling, a parent's held legs activate for its fills (or are canceled), and
    a stop that triggered while this order worked at the venue goes out now
    (orders/services/order_classes.py)."""
    return end_order(lo, order, target, action, event, actor, hooks=order is lo.order, **fields)


@transaction.atomic(durable=True)
def order_venue_rejected(*, order_id, reason: str, actor: str = "venue") -> Order:
    lo = lock_for_order(order_id)
    return _end(lo, lo.order, Status.REJECTED, "order.rejected", "rejected", actor, reject_reason=reason[:200])


@transaction.atomic(durable=True)
def order_venue_canceled(*, order_id, actor: str = "venue") -> Order:
    lo = lock_for_order(order_id)
    if lo.replacement is not None and lo.replacement.is_open:
        _end(lo, lo.replacement, Status.CANCELED, "order.canceled", "canceled", actor)
    return _end(lo, lo.order, Status.CANCELED, "order.canceled", "canceled", actor)


@transaction.atomic(durable=True)
def order_venue_expired(*, order_id, actor: str = "venue") -> Order:
    lo = lock_for_order(order_id)
    return _end(lo, lo.order, Status.EXPIRED, "order.expired", "expired", actor)


@transaction.atomic(durable=True)
def order_venue_replaced(*, order_id, actor: str = "venue") -> Order:
    """The venue confirmed a replace: the original ends as replaced and its holds pass to the
    replacement, which carries the original's fills (FIX: OrderQty is the new total)."""
    lo = lock_for_order(order_id)
    original, replacement = lo.order, lo.replacement
    if replacement is None:
        raise InvalidInput("no_pending_replace", "order has no pending replacement")
    _move(original, Status.REPLACED, replaced_at=timezone.now())
    replacement.filled_qty, replacement.filled_avg_price = original.filled_qty, original.filled_avg_price
    replacement.reserved_cash += original.reserved_cash
    replacement.reserved_qty += original.reserved_qty
    replacement.located_qty += original.located_qty
    original.reserved_cash = original.reserved_qty = original.located_qty = 0
    replacement.venue, replacement.venue_order_id = original.venue, original.venue_order_id
    _move(replacement, Status.FILLED if replacement.qty is not None and replacement.filled_qty >= replacement.qty else Status.NEW)
    if replacement.status == Status.FILLED:
        reservation_release(account=lo.account, position=lo.position, order=replacement)
    original.save()
    replacement.save()
    _audit(lo, original, "order.replaced", actor, replaced_by=replacement.pk)
    _audit(lo, replacement, "order.replacement_active", actor, replaces=original.pk)
    publish_trade_update(replacement, "replaced")
    return replacement


@transaction.atomic(durable=True)
def order_venue_cancel_rejected(*, order_id, reason: str, actor: str = "venue") -> Order:
    """The venue refused a cancel or replace: the order goes back to working, and a pending
    replacement is rejected, giving back the extra it had reserved."""
    return _cancel_refused(lock_for_order(order_id), reason=reason, actor=actor)


def _cancel_refused(lo: LockedOrder, *, reason: str, actor: str) -> Order:
    """The order's pending cancel or replace will not happen. Caller holds lock_for_order."""
    order = lo.order
    if order.status not in (Status.PENDING_CANCEL, Status.PENDING_REPLACE):
        return order
    if lo.replacement is not None and lo.replacement.is_open:
        _end(lo, lo.replacement, Status.REJECTED, "order.rejected", "rejected", actor, reject_reason=reason[:200])
    _move(order, Status.PARTIALLY_FILLED if order.filled_qty > 0 else Status.NEW)
    order.save()
    _audit(lo, order, "order.cancel_rejected", actor, reason=reason)
    publish_trade_update(order, "order_cancel_rejected")
    sibling = exit_sibling(order, members(lo))
    if sibling is not None and sibling.status == Status.ACCEPTED and sibling.triggered_at is not None:
        # The triggered stop still waits for this take-profit to go: touching its row puts it back
        # on the trigger runner's retry list, which asks for the cancel again.
        sibling.hold_reason = f"take-profit cancel refused ({reason})"[:200]
        sibling.save()
    return order


__all__ = ["execution_apply", "order_venue_acknowledged", "order_venue_rejected", "order_venue_canceled",
           "order_venue_expired", "order_venue_replaced", "order_venue_cancel_rejected", "outbox_park",
           "order_venue_resend"]


@transaction.atomic(durable=True)
def outbox_park(*, outbox_id: int, reason: str, actor: str = "fixbridge") -> OutboxMessage:
    """Park an outbox row whose message cannot be built (invariant 9: one bad row never blocks the
    others). The row keeps its reason; the order gets the answer the venue will never give: a NEW
    ends the order (rejected, or canceled if the client had already asked for that), a cancel or
    replace is refused and the order keeps working. Audited; a trade update tells the client.
    Idempotent: a row already sent or parked (by another bridge) is left as it is."""
    order_id = OutboxMessage.objects.values_list("order_id", flat=True).get(pk=outbox_id)
    lo = lock_for_order(order_id)
    row = OutboxMessage.objects.select_for_update().get(pk=outbox_id)
    if row.sent_at is not None or row.parked_at is not None:
        return row
    _park(lo, row, reason, actor)
    order = lo.order
    if row.kind == OutboxMessage.Kind.NEW:
        if order.is_open and not order.venue_order_id:
            # It never reached a venue, so nothing works anywhere; what else waits for it is moot.
            _end_before_venue(lo, f"order_unsendable: {reason}", actor)
    elif order.status in (Status.PENDING_CANCEL, Status.PENDING_REPLACE):
        _cancel_refused(lo, reason=f"order_unsendable: {reason}", actor=actor)
    return row


def _park(lo: LockedOrder, row: OutboxMessage, reason: str, actor: str) -> None:
    row.parked_at, row.park_reason = timezone.now(), reason[:200]
    row.save(update_fields=["parked_at", "park_reason"])
    _audit(lo, lo.order, "outbox.parked", actor, outbox_id=row.pk, kind=row.kind, reason=row.park_reason)


def _end_before_venue(lo: LockedOrder, reason: str, actor: str) -> None:
    """End an order that never reached a venue, parking its other waiting rows. A client's cancel
    already asked for is honoured (pending_cancel may only end canceled); otherwise rejected."""
    order = lo.order
    for other in OutboxMessage.objects.filter(order=order, sent_at__isnull=True, parked_at__isnull=True):
        _park(lo, other, "the order ended before it reached a venue", actor)
    if order.status == Status.PENDING_CANCEL:
        _end(lo, order, Status.CANCELED, "order.canceled", "canceled", actor, reason=reason[:200])
    else:
        _end(lo, order, Status.REJECTED, "order.rejected", "rejected", actor, reject_reason=reason[:200])


@transaction.atomic(durable=True)
def order_venue_resend(*, order_id, venue: str, why: str, actor: str = "fixbridge") -> str:
    """The venue's status answer shows that the message the order waits on (its NEW, cancel or
    replace) never reached it: send it again, with the same ClOrdID, which the venue dedups, so a
    copy still in flight can never make a second order or cancel. Returns "resent", "waiting"
    (its row is not sent yet: the drainer will), or, after MAX_SEND_ATTEMPTS sends the venue still
    does not know, "rejected" (a NEW) / "cancel_refused" (a cancel or replace), parked, audited."""
    lo = lock_for_order(order_id)
    order = lo.order
    kind = AWAITED_KIND.get(order.status)
    if kind is None:
        return "settled"
    row = (OutboxMessage.objects.select_for_update().filter(order=order, kind=kind, parked_at__isnull=True)
           .order_by("-id").first())
    if row is None or row.sent_at is None:
        return "waiting"
    if row.attempts >= MAX_SEND_ATTEMPTS:
        reason = f"venue_unknown_order: {venue} does not know it after {row.attempts} sends"
        _park(lo, row, reason, actor)
        if kind == OutboxMessage.Kind.NEW:
            _end_before_venue(lo, reason, actor)
            return "rejected"
        _cancel_refused(lo, reason=reason, actor=actor)
        return "cancel_refused"
    row.sent_at = None
    row.save(update_fields=["sent_at"])
    _audit(lo, order, "order.resent", actor, venue=venue, outbox_id=row.pk, kind=row.kind, attempts=row.attempts,
           why=why)
    return "resent"
