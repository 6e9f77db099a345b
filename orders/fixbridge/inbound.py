"""Applying what a venue reports through the order services, one service call per report.

Every report may arrive twice (a QuickFIX resend after a restart carries PossDupFlag): fills are
idempotent on (venue, ExecID) in `execution_apply`; a status report that no longer matches the
order (the order already moved on) raises IllegalTransition inside the service, which rolls back,
and is logged here as stale. Nothing is guessed: a report the broker cannot map is recorded in
the system audit chain for staff and changes no order.

Any other exception propagates: the QuickFIX callback then ends the process before the session
counts the message as received, and the venue resends it when the bridge comes back (crash-only;
see application.py).
"""
import logging
from decimal import Decimal

from compliance.services import audit_record_system
from core.errors import NotFound

from ..models import Order, OutboxMessage
from ..services import (
    execution_apply,
    order_venue_acknowledged,
    order_venue_cancel_rejected,
    order_venue_canceled,
    order_venue_expired,
    order_venue_rejected,
    order_venue_replaced,
    order_venue_resend,
)
from ..state import OPEN_STATUSES, IllegalTransition, Status
from . import wakeup
from .reports import ORD_STATUS, Report, UnusableReport

log = logging.getLogger(__name__)
ACTOR = "fixbridge"
# The venue refused a NewOrderSingle it had already accepted (our resend after a crash): the
# first one stands, the duplicate changes nothing.
DUPLICATE_CL_ORD_ID = "duplicate_cl_ord_id"
# A status answer for a ClOrdID the venue has never seen (ExecType I, OrdStatus 8).
UNKNOWN_ORDER = "unknown_order"


def report_apply(venue: str, report: Report) -> str:
    """Apply one report from `venue`; returns what was done (for logs and tests)."""
    try:
        if report.msg_type == "9":
            return _cancel_reject(report)
        handler = _HANDLERS.get(report.exec_type)
        if handler is None:
            return _unusable(venue, report, f"unexpected ExecType {report.exec_type!r}")
        return handler(venue, report)
    except UnusableReport as exc:
        return _unusable(venue, report, str(exc))
    except NotFound:
        return _unusable(venue, report, "no such order")
    except IllegalTransition as exc:
        log.info("%s: stale report %s for %s ignored (%s)", venue, report.exec_type, report.cl_ord_id, exc)
        return "stale"


def _unusable(venue: str, report: Report, why: str) -> str:
    log.warning("%s: report not applied: %s (%s)", venue, why, report)
    audit_record_system(actor=ACTOR, action="fix.report_not_applied", entity_type="venue", entity_id=venue,
                        data={"why": why, "cl_ord_id": report.cl_ord_id, "orig_cl_ord_id": report.orig_cl_ord_id,
                              "exec_type": report.exec_type, "exec_id": report.exec_id, "text": report.text})
    return "unusable"


def _acknowledged(venue: str, report: Report) -> str:
    order_venue_acknowledged(order_id=report.order_id, venue=venue, venue_order_id=report.venue_order_id, actor=ACTOR)
    return "acknowledged"


def _rejected(venue: str, report: Report) -> str:
    if report.text.startswith(DUPLICATE_CL_ORD_ID):
        return "duplicate"
    order_venue_rejected(order_id=report.order_id, reason=f"venue {venue}: {report.text or 'rejected'}", actor=ACTOR)
    return "rejected"


def _fill(venue: str, report: Report) -> str:
    if not report.exec_id or report.last_qty is None or report.last_px is None:
        raise UnusableReport("fill without ExecID, LastQty or LastPx")
    applied = execution_apply(venue=venue, exec_id=report.exec_id, order_id=report.order_id, qty=report.last_qty,
                              price=report.last_px, transacted_at=report.transacted_at, leaves_qty=report.leaves_qty,
                              actor=ACTOR)
    return "filled" if applied is not None else "duplicate"


def _canceled(venue: str, report: Report) -> str:
    outbox_id = report.cancel_outbox_id
    expire = bool(outbox_id and OutboxMessage.objects.filter(pk=outbox_id, payload__expire=True).exists())
    if expire:
        order_venue_expired(order_id=report.order_id, actor=ACTOR)
        return "expired"
    order_venue_canceled(order_id=report.order_id, actor=ACTOR)
    return "canceled"


def _expired(venue: str, report: Report) -> str:
    order_venue_expired(order_id=report.order_id, actor=ACTOR)
    return "expired"


def _replaced(venue: str, report: Report) -> str:
    order_venue_replaced(order_id=report.original_id, actor=ACTOR)
    return "replaced"


def _cancel_reject(report: Report) -> str:
    if report.text.startswith(DUPLICATE_CL_ORD_ID):
        return "duplicate"  # our resend of a cancel or replace the venue already has: the first stands
    # For a cancel, ClOrdID is "C<n>" and OrigClOrdID the order; for a replace, ClOrdID is the
    # replacement and OrigClOrdID the original, whose pending replace is refused.
    target = report.order_id if report.cl_ord_id.startswith("C") else report.original_id
    order_venue_cancel_rejected(order_id=target, reason=report.text or "cancel rejected", actor=ACTOR)
    return "cancel_rejected"


def _status(venue: str, report: Report) -> str:
    """A status answer (OrderStatusRequest after a reconnect or an overdue acknowledgement):
    settle what the venue states as fact, flag what does not add up."""
    order = Order.objects.filter(pk=report.order_id).first()
    if order is None:
        raise NotFound("order not found")
    venue_status = ORD_STATUS.get(report.ord_status, "")
    if order.status not in OPEN_STATUSES:
        return "settled"
    unknown = venue_status == "rejected" and report.text.startswith(UNKNOWN_ORDER)
    if unknown and order.status == Status.PENDING_NEW:
        # Everything sent before the question reached the venue before it (one session, in
        # sequence): the NEW never arrived. Sent again with its ClOrdID (the venue dedups), never
        # rejected for what may be our own loss; after a few sends the venue's word stands.
        return _resend(venue, order, "the venue did not know the order")
    if unknown and order.status == Status.PENDING_CANCEL and not order.venue_order_id and order.filled_qty == 0:
        # Its NEW never arrived and the client has asked to cancel it: nothing works anywhere.
        order_venue_canceled(order_id=order.pk, actor=ACTOR)
        return "canceled"
    if venue_status == "rejected" and order.filled_qty == 0:
        # The venue does not know an order it had acknowledged (or says it rejected it): it is
        # not working anywhere.
        order_venue_rejected(order_id=order.pk, reason=f"venue {venue}: order unknown at the venue", actor=ACTOR)
        return "rejected"
    if venue_status in ("new", "partially_filled") and order.status == Status.PENDING_NEW:
        order_venue_acknowledged(order_id=order.pk, venue=venue, venue_order_id=report.venue_order_id, actor=ACTOR)
    if venue_status in ("new", "partially_filled") and order.status in (Status.PENDING_CANCEL, Status.PENDING_REPLACE):
        # Still working at the venue, and no answer to our cancel/replace came before this one:
        # the request never arrived.
        return _resend(venue, order, f"the venue still works the order ({venue_status})")
    venue_cum = report.cum_qty or Decimal(0)
    if venue_cum != order.filled_qty:
        # Fills are only ever applied with their ExecIDs (from the session's resend); a difference
        # that remains is a break for staff, never a guessed fill.
        audit_record_system(actor=ACTOR, action="order.reconciliation_break", entity_type="order", entity_id=order.pk,
                            data={"venue": venue, "venue_status": venue_status, "venue_cum_qty": venue_cum,
                                  "broker_filled_qty": order.filled_qty, "broker_status": order.status})
        return "break"
    if venue_status in ("canceled", "expired"):
        (order_venue_expired if venue_status == "expired" else order_venue_canceled)(order_id=order.pk, actor=ACTOR)
        return venue_status
    return "in_sync"


def _resend(venue: str, order: Order, why: str) -> str:
    outcome = order_venue_resend(order_id=order.pk, venue=venue, why=why, actor=ACTOR)
    if outcome == "resent":
        wakeup.ring()  # after the commit: the drainer sends it again
    return outcome


_HANDLERS = {
    "0": _acknowledged,
    "8": _rejected,
    "F": _fill,
    "4": _canceled,
    "C": _expired,
    "5": _replaced,
    "I": _status,
}
