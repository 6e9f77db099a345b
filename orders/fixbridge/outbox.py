"""Draining the order outbox to the venues.

Rows are claimed in id order with SELECT ... FOR UPDATE SKIP LOCKED (several bridges never send
the same row), handed to QuickFIX, and marked sent in the claiming transaction. The only locks
held while QuickFIX takes a message are these outbox rows' own: no account, position or order row
is locked here, so trading never waits on the network (DESIGN: no network call under a row lock).

If the process dies after QuickFIX sent a message and before the commit, the row is sent again
on restart: a NewOrderSingle with a ClOrdID the venue already has is refused as a duplicate and
changes nothing (inbound.DUPLICATE_CL_ORD_ID); a second cancel is answered with a cancel reject
that the order services ignore once the order has moved on.

A NEW for a venue whose session is down is rejected (`venue_unavailable`): the user can act on a
refusal, not on an order that waits for an unknown time. Cancels and replaces for a down venue
wait in the outbox for the logon, which wakes the drainer.
"""
import logging
from dataclasses import dataclass, field

import quickfix as fix
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import Order, OutboxMessage
from ..services import order_venue_rejected
from . import messages

log = logging.getLogger(__name__)
BATCH = 200
VENUE_UNAVAILABLE = "venue_unavailable"


@dataclass
class DrainResult:
    sent: int = 0
    refused: list = field(default_factory=list)  # order ids rejected because their venue is down
    waiting: int = 0  # cancels/replaces held for a venue that is down


def _build(row: OutboxMessage):
    order = row.order
    if row.kind == OutboxMessage.Kind.NEW:
        return messages.new_order_single(order, row.payload)
    if row.kind == OutboxMessage.Kind.CANCEL:
        return messages.cancel_request(order, row.pk)
    replacement = Order.objects.get(pk=row.payload["replacement_id"])
    return messages.replace_request(order, replacement)


def drain_once(app) -> DrainResult:
    """Send one batch; returns what happened. `app` is the BridgeApplication (sessions, logons)."""
    result = DrainResult()
    with transaction.atomic():
        with app.lock:
            up = sorted(app.logged_on)
        # Cancels and replaces for a venue that is down wait; they are not claimed meanwhile.
        rows = list(OutboxMessage.objects.select_for_update(skip_locked=True, of=("self",))
                    .filter(Q(kind=OutboxMessage.Kind.NEW) | Q(order__venue__in=up), sent_at__isnull=True)
                    .select_related("order").order_by("id")[:BATCH])
        sent_ids, now = [], timezone.now()
        for row in rows:
            venue = row.order.venue
            session_id = app.sessions.get(venue)
            if session_id is None or not app.is_logged_on(venue):
                if row.kind == OutboxMessage.Kind.NEW:
                    result.refused.append(row.order_id)
                    sent_ids.append(row.pk)  # consumed: the order is rejected below
                else:
                    result.waiting += 1
                continue
            if not fix.Session.sendToTarget(_build(row), session_id):
                result.waiting += 1  # the session dropped just now; the logon will wake us
                continue
            sent_ids.append(row.pk)
            result.sent += 1
        if sent_ids:
            OutboxMessage.objects.filter(pk__in=sent_ids).update(sent_at=now)
    for order_id in result.refused:
        order_venue_rejected(order_id=order_id, reason=f"{VENUE_UNAVAILABLE}: the venue's session is down",
                             actor="fixbridge")
    return result


def drain(app) -> DrainResult:
    """Drain until no sendable row is left."""
    total = DrainResult()
    while True:
        result = drain_once(app)
        total.sent += result.sent
        total.refused += result.refused
        total.waiting = result.waiting
        if result.sent == 0 and not result.refused:
            return total
