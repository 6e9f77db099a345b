"""Writing the audit trail. Every state change calls audit_record() inside its own transaction
(invariant 4), so a change and its audit event commit or roll back together."""
import hashlib
from datetime import datetime

import orjson
from django.db import connection, transaction
from django.db.models import Subquery
from django.utils import timezone

from core.clock import clock_state

from .models import AuditEvent

GENESIS_HASH = "0" * 64
SYSTEM_CHAIN = ""


def _canonical(value):
    """JSON-safe canonical form: Decimals and UUIDs as strings, datetimes as ISO 8601 UTC."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def event_hash(*, chain: str, seq: int, occurred_at: datetime, actor: str, action: str, entity_type: str,
               entity_id: str, data: dict, prev_hash: str) -> str:
    body = orjson.dumps(
        {
            "chain": chain,
            "seq": seq,
            "occurred_at": occurred_at.isoformat(),
            "actor": actor,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "data": data,
            "prev_hash": prev_hash,
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(body).hexdigest()


def audit_head_annotations(account_id) -> dict:
    """The chain head of an account, for accounts.locks.lock_account to read in its locking query
    (saving a round trip per event on the order path)."""
    events = AuditEvent.objects.filter(chain=str(account_id)).order_by("-seq")
    return {"audit_head_seq": Subquery(events.values("seq")[:1]), "audit_head_hash": Subquery(events.values("hash")[:1])}


def audit_record(*, actor: str, action: str, entity_type: str, entity_id, data: dict, account=None,
                 account_id=None) -> AuditEvent:
    """Append one event to the account's chain (or the system chain when there is no account).

    The caller must hold the account's row lock (accounts.locks.lock_account): that lock is what
    serialises appends to one chain. Given the locked `account` instance, the chain head comes from
    the annotations lock_account read with the lock, and is kept current on the instance for the
    transaction's next event. The system chain is serialised by a transaction-scoped advisory lock
    on PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises writers).
    """
    assert connection.in_atomic_block, "audit_record must run inside the transaction of the change"
    if account is not None:
        account_id = account.pk
    chain = str(account_id) if account_id else SYSTEM_CHAIN
    if not chain and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('tradex.audit.system'))")
    if account is not None and hasattr(account, "audit_head_seq"):
        last = (account.audit_head_seq, account.audit_head_hash) if account.audit_head_seq else None
    else:
        last = AuditEvent.objects.filter(chain=chain).order_by("-seq").values_list("seq", "hash").first()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    clock = clock_state()  # cached: no system call on most events
    occurred_at = timezone.now()
    data = _canonical(data)
    entity_id = str(entity_id)
    digest = event_hash(chain=chain, seq=seq, occurred_at=occurred_at, actor=actor, action=action,
                        entity_type=entity_type, entity_id=entity_id, data=data, prev_hash=prev_hash)
    event = AuditEvent.objects.create(chain=chain, seq=seq, occurred_at=occurred_at, actor=actor, action=action,
                                      entity_type=entity_type, entity_id=entity_id, data=data,
                                      prev_hash=prev_hash, hash=digest, clock_source=clock.source,
                                      clock_offset_ns=clock.offset_ns)
    if account is not None:
        account.audit_head_seq, account.audit_head_hash = seq, digest
    return event


def audit_record_system(*, actor: str, action: str, entity_type: str, entity_id, data: dict) -> AuditEvent:
    """An event with no account (asset, halt, limits): its own small transaction if none is open."""
    with transaction.atomic():
        return audit_record(account_id=None, actor=actor, action=action, entity_type=entity_type,
                            entity_id=entity_id, data=data)
