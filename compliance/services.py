"""Writing the audit trail. Every state change calls audit_record() inside its own transaction
(invariant 4), so a change and its audit event commit or roll back together."""
import hashlib
from datetime import datetime

import orjson
from django.db import connection, transaction
from django.utils import timezone

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


def audit_record(*, account_id, actor: str, action: str, entity_type: str, entity_id, data: dict) -> AuditEvent:
    """Append one event to the account's chain (or the system chain when account_id is None).

    The caller must hold the account's row lock (accounts.locks.lock_account): that lock is what
    serialises appends to one chain. The system chain is serialised by a transaction-scoped
    advisory lock on PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises writers).
    """
    assert connection.in_atomic_block, "audit_record must run inside the transaction of the change"
    chain = str(account_id) if account_id else SYSTEM_CHAIN
    if not chain and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('tradex.audit.system'))")
    last = AuditEvent.objects.filter(chain=chain).order_by("-seq").values_list("seq", "hash").first()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    occurred_at = timezone.now()
    data = _canonical(data)
    entity_id = str(entity_id)
    digest = event_hash(chain=chain, seq=seq, occurred_at=occurred_at, actor=actor, action=action,
                        entity_type=entity_type, entity_id=entity_id, data=data, prev_hash=prev_hash)
    return AuditEvent.objects.create(chain=chain, seq=seq, occurred_at=occurred_at, actor=actor, action=action,
                                     entity_type=entity_type, entity_id=entity_id, data=data,
                                     prev_hash=prev_hash, hash=digest)


def audit_record_system(*, actor: str, action: str, entity_type: str, entity_id, data: dict) -> AuditEvent:
    """An event with no account (asset, halt, limits): its own small transaction if none is open."""
    with transaction.atomic():
        return audit_record(account_id=None, actor=actor, action=action, entity_type=entity_type,
                            entity_id=entity_id, data=data)
