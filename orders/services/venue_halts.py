"""Staff halt and resume of a venue: routing (orders.venue_selection.venue_for) sends no new order to a
halted venue; orders already working there stay (cancel them explicitly). Each change is audited
on the system chain in its transaction.

Routing reads venues through a one-second per-process cache (orders.venue_selection.CACHE_SECONDS): this
process's cache is cleared after commit; other processes see the change within that second.
"""
from django.db import transaction

from compliance.services import audit_record
from core.errors import InvalidInput, NotFound

from ..models import Venue
from ..venue_selection import venue_cache_clear


def _audit(venue: str, action: str, actor: str, **data) -> None:
    audit_record(account_id=None, actor=actor, action=f"venue.{action}", entity_type="venue", entity_id=venue,
                 data=data)


def _exists(venue: str) -> None:
    if not Venue.objects.filter(pk=venue).exists():
        raise NotFound(f"no venue {venue}", reason="venue_not_found")


@transaction.atomic(durable=True)
def venue_halt(*, venue: str, reason: str, actor: str) -> bool:
    """Stop routing new orders to `venue`. Returns False (and writes nothing) if it was halted already."""
    reason = (reason or "").strip()[:200]
    if not reason:
        raise InvalidInput("invalid_reason", "a halt needs a reason")
    _exists(venue)
    # One conditional UPDATE of the staff columns only: the bridge's session columns are untouched,
    # and of two concurrent halts one changes the row and is audited.
    if not Venue.objects.filter(pk=venue, halted=False).update(halted=True, halt_reason=reason):
        return False
    _audit(venue, "halted", actor, reason=reason)
    transaction.on_commit(venue_cache_clear)
    return True


@transaction.atomic(durable=True)
def venue_resume(*, venue: str, actor: str) -> bool:
    """Route to `venue` again. Returns False (and writes nothing) if it was not halted."""
    _exists(venue)
    previous = Venue.objects.filter(pk=venue).values_list("halt_reason", flat=True).first()
    if not Venue.objects.filter(pk=venue, halted=True).update(halted=False, halt_reason=""):
        return False
    _audit(venue, "resumed", actor, halt_reason=previous)
    transaction.on_commit(venue_cache_clear)
    return True
