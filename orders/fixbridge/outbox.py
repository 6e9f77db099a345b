"""Draining the order outbox to the venues.

Only to a venue whose session is up and whose logon reconciliation is out (`ready`): a row for
any other venue waits, it is never rejected for the outage (the client was told "accepted"; the
order goes out when the session is back).

What is sent is recorded before it is sent (invariant 10). Rows are claimed in id order with
SELECT ... FOR UPDATE SKIP LOCKED (several bridges never send the same row), their messages built
and checked against the data dictionary, and `sent_at` committed; only then are the messages
handed to QuickFIX, which stores each before it writes it to the socket. So whatever moment the
bridge dies at, a message that may have reached a venue is marked sent, and on the next logon the
venue is asked about its order (bridge.py). A row marked sent whose message never left is found
that way: the venue does not know the order, and it is sent again with the same ClOrdID
(order_venue_resend), which the venue dedups, so a copy that did arrive can never double it.

A row whose message cannot be built (an order with no quantity, a value the dictionary refuses)
is parked with its reason after the batch commits (orders.services.outbox_park: the order is
rejected, its reservation released, audited, the client told) and the rest of the batch goes on
(invariant 9).
"""
import logging
from dataclasses import dataclass, field

import quickfix as fix
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from ..models import Order, OutboxMessage
from ..services import outbox_park
from . import messages

log = logging.getLogger(__name__)
BATCH = 200
ACTOR = "fixbridge"


@dataclass
class DrainResult:
    sent: int = 0
    parked: list = field(default_factory=list)  # outbox ids whose message could not be built
    unsent: int = 0  # handed back: QuickFIX refused them (the session went away); sent after logon


def _build(row: OutboxMessage) -> fix.Message:
    order = row.order
    if row.kind == OutboxMessage.Kind.NEW:
        message = messages.new_order_single(order, row.payload)
    elif row.kind == OutboxMessage.Kind.CANCEL:
        message = messages.cancel_request(order, row.pk)
    else:
        replacement = Order.objects.filter(pk=row.payload.get("replacement_id")).first()
        if replacement is None:
            raise messages.Unsendable("the replacement order does not exist")
        message = messages.replace_request(order, replacement)
    return messages.validated(message)


def _claim(ready: list[str]) -> tuple[list, list]:
    """Claim a batch, build its messages and mark the buildable ones sent; commits on return."""
    outgoing, bad = [], []
    with transaction.atomic():
        rows = list(OutboxMessage.objects.select_for_update(skip_locked=True, of=("self",))
                    .filter(order__venue__in=ready, sent_at__isnull=True, parked_at__isnull=True)
                    .select_related("order").order_by("id")[:BATCH])
        for row in rows:
            try:
                outgoing.append((row, _build(row)))
            except DatabaseError:
                raise  # not the row's fault: the whole drain retries
            except Exception as exc:  # the row's own data: park it, go on with the others
                bad.append((row, f"{type(exc).__name__}: {exc}"))
        if outgoing:
            OutboxMessage.objects.filter(pk__in=[row.pk for row, _ in outgoing]).update(
                sent_at=timezone.now(), attempts=F("attempts") + 1)
    return outgoing, bad


def _send(app, venue: str, message: fix.Message) -> bool:
    session_id = app.sessions.get(venue)
    if session_id is None:
        return False
    try:
        # True once QuickFIX stored it: if the session dropped meanwhile, it goes out in the
        # session's resend at the next logon, before anything sent after it.
        return fix.Session.sendToTarget(message, session_id)
    except fix.SessionNotFound:
        return False


def drain_once(app, ready: list[str]) -> DrainResult:
    """Send one batch to the `ready` venues. `app` is the BridgeApplication (its sessions)."""
    result = DrainResult()
    if not ready:
        return result
    outgoing, bad = _claim(ready)
    unsent = []
    for row, message in outgoing:
        if _send(app, row.order.venue, message):
            result.sent += 1
        else:
            unsent.append(row.pk)  # never stored by QuickFIX: it did not leave, send it later
    if unsent:
        result.unsent = OutboxMessage.objects.filter(pk__in=unsent).update(sent_at=None, attempts=F("attempts") - 1)
    for row, reason in bad:
        log.error("fixbridge: outbox row %s (%s of order %s) parked: %s", row.pk, row.kind, row.order_id, reason)
        try:
            outbox_park(outbox_id=row.pk, reason=reason, actor=ACTOR)
        except Exception:
            log.exception("fixbridge: could not park outbox row %s; it is tried again on the next pass", row.pk)
            continue
        result.parked.append(row.pk)
    return result


def drain(app, ready: list[str]) -> DrainResult:
    """Drain until no sendable row is left."""
    total = DrainResult()
    while True:
        result = drain_once(app, ready)
        total.sent += result.sent
        total.parked += result.parked
        total.unsent += result.unsent
        if (result.sent == 0 and not result.parked) or result.unsent:
            return total
