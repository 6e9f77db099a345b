"""Reading and verifying the audit trail."""
from dataclasses import dataclass

from .models import AuditEvent
from .services import GENESIS_HASH, event_hash


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
    current_chain, expected_seq, prev_hash = None, 1, GENESIS_HASH
    for ev in qs.iterator(chunk_size=batch_size):
        if ev.chain != current_chain:
            current_chain, expected_seq, prev_hash = ev.chain, 1, GENESIS_HASH
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
