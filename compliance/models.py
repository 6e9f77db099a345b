from django.db import models
from django.db.models.fields.json import KeyTextTransform


class AuditEvent(models.Model):
    """Append-only, hash-chained audit trail (invariant 4). PostgreSQL refuses UPDATE and DELETE on
    this table by trigger (migrations 0002 and 0003): the one exception is the retention purge
    (compliance.retention.purge_expired), which may delete only rows an ArchiveManifest covers that
    is verified, past retention and not under a LegalHold. Each row's hash covers its content and
    the previous row's hash in the same chain (one chain per account, chain '' for events with
    no account), so `manage.py verify_audit` finds any altered or removed row.

    Search indexes (the admin's filters, compliance.selectors.audit_search; newest first, so each
    ends in occurred_at, id): chain, actor, action and the payload's symbol (an expression index on
    data->>'symbol'), time alone; an order's events use
    audit_entity_idx."""

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
        indexes = [
            models.Index(fields=["entity_type", "entity_id", "id"], name="audit_entity_idx"),
            models.Index(fields=["occurred_at", "id"], name="audit_time_idx"),
            models.Index(fields=["chain", "occurred_at", "id"], name="audit_chain_time_idx"),
            models.Index(fields=["actor", "occurred_at", "id"], name="audit_actor_time_idx"),
            models.Index(fields=["action", "occurred_at", "id"], name="audit_action_time_idx"),
            models.Index(KeyTextTransform("symbol", "data"), "occurred_at", "id", name="audit_symbol_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.chain}#{self.seq} {self.action}"


class ArchiveManifest(models.Model):
    """One archive export: the events of one chain in one calendar year, written to files under
    VAR_DIR/archive/ with a signed manifest (compliance/retention.py). The database trigger lets
    the retention purge delete a chain's events only up to last_seq of a manifest that is
    verified and whose retain_until has passed."""

    chain = models.CharField(max_length=36)
    period = models.CharField(max_length=16)  # "2019": the calendar year (UTC) of occurred_at
    first_seq = models.PositiveBigIntegerField()
    last_seq = models.PositiveBigIntegerField()
    first_prev_hash = models.CharField(max_length=64)
    first_hash = models.CharField(max_length=64)
    last_hash = models.CharField(max_length=64)
    event_count = models.PositiveBigIntegerField()
    path = models.CharField(max_length=500)  # the manifest file, relative to VAR_DIR/archive
    manifest_sha256 = models.CharField(max_length=64)
    signature = models.CharField(max_length=64)
    retain_until = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150)
    verified_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chain", "period"], name="archive_chain_period_uniq"),
            models.UniqueConstraint(fields=["chain", "first_seq"], name="archive_chain_first_seq_uniq"),
        ]

    def __str__(self) -> str:
        return f"archive {self.chain or 'system'} {self.period} #{self.first_seq}-{self.last_seq}"


class LegalHold(models.Model):
    """A hold stops the retention purge: on one account's chain, on events naming a symbol, or on
    everything. Placing and releasing are audited (compliance.retention.legal_hold_place/_release)."""

    class Scope(models.TextChoices):
        ACCOUNT = "account"
        SYMBOL = "symbol"
        ALL = "all"

    scope = models.CharField(max_length=8, choices=Scope.choices)
    chain = models.CharField(max_length=36, blank=True)  # the account id when scope is account
    symbol = models.CharField(max_length=32, blank=True)
    reason = models.TextField()
    placed_by = models.CharField(max_length=150)
    placed_at = models.DateTimeField(auto_now_add=True)
    released_by = models.CharField(max_length=150, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.TextField(blank=True)

    class Meta:
        constraints = [models.CheckConstraint(
            condition=(models.Q(scope="account", symbol="") & ~models.Q(chain=""))
            | (models.Q(scope="symbol", chain="") & ~models.Q(symbol=""))
            | models.Q(scope="all", chain="", symbol=""),
            name="legal_hold_scope_target")]

    def __str__(self) -> str:
        target = {"account": self.chain, "symbol": self.symbol, "all": "everything"}[self.scope]
        return f"hold on {target}{' (released)' if self.released_at else ''}"
