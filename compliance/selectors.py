"""Reading, searching and verifying the audit trail."""
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import is_naive, make_aware

from .models import ArchiveManifest, AuditEvent
from .services import GENESIS_HASH, event_hash

# The admin's search box: `key:value` terms, ANDed. A bare term is an exact account (chain),
# entity id or actor. Each filter has its index (compliance/models.py); results are newest first.
SEARCH_KEYS = ("account", "symbol", "order", "actor", "action", "type", "entity", "from", "to")


class SearchError(ValueError):
    pass


def _when(value: str, *, end: bool) -> datetime:
    day = parse_date(value) if len(value) == 10 else None  # parse_datetime would read a date as midnight
    moment = None if day else parse_datetime(value)
    if moment is None:
        if day is None:
            raise SearchError(f"not a date or datetime: {value!r}")
        moment = datetime(day.year, day.month, day.day)
        if end:  # "to:2026-01-31" includes that whole day
            moment = moment.replace(hour=23, minute=59, second=59, microsecond=999999)
    return make_aware(moment, UTC) if is_naive(moment) else moment


def audit_search_terms(text: str) -> dict[str, list[str]]:
    """Parse the search box: {"symbol": ["AAPL"], "": [bare terms], ...}. A word whose prefix is not
    a key ("admin:alice") is a bare term."""
    terms: dict[str, list[str]] = {}
    for word in text.split():
        key, sep, value = word.partition(":")
        if not sep or key.lower() not in SEARCH_KEYS or not value:
            key, value = "", word
        terms.setdefault(key.lower(), []).append(value)
    return terms


def audit_search(text: str, queryset: QuerySet | None = None) -> QuerySet:
    """The events matching the search box `text` (see SEARCH_KEYS), newest first."""
    qs = AuditEvent.objects.all() if queryset is None else queryset
    for key, values in audit_search_terms(text).items():
        for value in values:
            if key == "account":
                qs = qs.filter(chain="" if value in ("system", "-") else value)
            elif key == "symbol":
                # data->>'symbol', the expression audit_symbol_time_idx indexes
                qs = qs.alias(symbol=KeyTextTransform("symbol", "data")).filter(symbol=value.upper())
            elif key == "order":
                qs = qs.filter(entity_type="order", entity_id=value)
            elif key == "actor":
                qs = qs.filter(actor=value)
            elif key == "action":
                qs = qs.filter(action=value)
            elif key == "type":
                qs = qs.filter(entity_type=value)
            elif key == "entity":
                qs = qs.filter(entity_id=value)
            elif key == "from":
                qs = qs.filter(occurred_at__gte=_when(value, end=False))
            elif key == "to":
                qs = qs.filter(occurred_at__lte=_when(value, end=True))
            else:
                qs = qs.filter(Q(chain=value) | Q(entity_id=value) | Q(actor=value))
    return qs.order_by("-occurred_at", "-id")


@dataclass(frozen=True)
class ChainBreak:
    chain: str
    seq: int
    problem: str


def audit_events_for_entity(*, entity_type: str, entity_id) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(entity_type=entity_type, entity_id=str(entity_id)).order_by("id"))


def audit_chain_breaks(*, chain: str | None = None, batch_size: int = 5000) -> list[ChainBreak]:
    """Walk every chain (or one) in seq order, recomputing each hash. A changed row breaks its own
    hash; a removed row leaves a gap in seq and a prev_hash that no longer matches."""
    breaks: list[ChainBreak] = []
    qs = AuditEvent.objects.order_by("chain", "seq")
    if chain is not None:
        qs = qs.filter(chain=chain)
    # A chain whose oldest events were purged after archiving starts where its last purged
    # archive ends (compliance/retention.py); verify_archive checks the archive itself.
    purged = {m.chain: (m.last_seq + 1, m.last_hash) for m in
              ArchiveManifest.objects.filter(purged_at__isnull=False).order_by("chain", "last_seq")}
    current_chain, expected_seq, prev_hash = None, 1, GENESIS_HASH
    for ev in qs.iterator(chunk_size=batch_size):
        if ev.chain != current_chain:
            current_chain = ev.chain
            expected_seq, prev_hash = purged.get(ev.chain, (1, GENESIS_HASH))
        if ev.seq != expected_seq:
            breaks.append(ChainBreak(ev.chain, ev.seq, f"sequence gap: expected {expected_seq}"))
        if ev.prev_hash != prev_hash:
            breaks.append(ChainBreak(ev.chain, ev.seq, "prev_hash does not match the previous event"))
        recomputed = event_hash(chain=ev.chain, seq=ev.seq, occurred_at=ev.occurred_at, actor=ev.actor,
                                action=ev.action, entity_type=ev.entity_type, entity_id=ev.entity_id,
                                data=ev.data, prev_hash=ev.prev_hash)
        if recomputed != ev.hash:
            breaks.append(ChainBreak(ev.chain, ev.seq, "content does not match its hash"))
        expected_seq, prev_hash = ev.seq + 1, ev.hash
    return breaks
