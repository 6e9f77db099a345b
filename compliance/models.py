from django.db import models


class AuditEvent(models.Model):
    """Append-only, hash-chained audit trail (invariant 4). PostgreSQL refuses UPDATE and DELETE on
    this table by trigger (migration 0002); each row's hash covers its content and
    the previous row's hash in the same chain (one chain per account, chain '' for events with
    no account), so `manage.py verify_audit` finds any altered or removed row."""

    id = models.BigAutoField(primary_key=True)
    chain = models.CharField(max_length=36)  # account id, or "" for the system chain
    seq = models.PositiveBigIntegerField()
    occurred_at = models.DateTimeField()
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    entity_type = models.CharField(max_length=32)
    entity_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # The clock at capture (core.clock): its source and its offset from the reference, in
    # nanoseconds (null: unknown). Not covered by `hash`: the chain's hashed fields are unchanged,
    # so event_hash and every verifier of it read old and new rows alike; the append-only trigger
    # still refuses any change to them. Rows written before these fields existed have them null
    # (nullable so that SQLite adds the columns in place instead of rebuilding the table, which
    # would drop its append-only triggers).
    clock_source = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    clock_offset_ns = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="audit_chain_seq_uniq")]
        indexes = [models.Index(fields=["entity_type", "entity_id", "id"], name="audit_entity_idx")]

    def __str__(self) -> str:
        return f"{self.chain}#{self.seq} {self.action}"
