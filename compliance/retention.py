"""Retention of the audit trail by the books-and-records rules (docs/compliance.md).

The trail is kept TRADEX_AUDIT_RETENTION_YEARS (house policy 7; settings refuse fewer than the
regulatory 6), the last TRADEX_AUDIT_ACCESSIBLE_YEARS (2) readily accessible in the table.

- archive_export: each chain's events of each calendar year that ended before the accessible
  window are written to VAR_DIR/archive/<chain>/<year>/events.jsonl (one canonical JSON event a
  line, in seq order) with a manifest.json: the file's sha256, the chain's first/last seq and hash
  and the prev_hash it continues from, signed with HMAC-SHA256 (TRADEX_ARCHIVE_SIGNING_KEY). An
  ArchiveManifest row records each export.
- archive_verify: proves an archive matches the chain it came from (signature, file hashes, every
  event's hash recomputed, continuity with the archives and rows around it).
- purge_expired: deletes a chain's events past retention, oldest archive first, only when the
  archive is verified again at that moment and no legal hold covers them, through the database
  function compliance_audit_purge, the one path the append-only trigger allows (migration 0003).
- legal_hold_place / legal_hold_release: audited on the system chain.
"""
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Min
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import ExtractYear
from django.utils import timezone

from .models import ArchiveManifest, AuditEvent, LegalHold
from .services import GENESIS_HASH, audit_record_system, event_hash

FORMAT = "tradex-audit-archive/1"
EVENTS_FILE = "events.jsonl"
MANIFEST_FILE = "manifest.json"


class RetentionError(Exception):
    pass


def archive_root() -> Path:
    return Path(settings.VAR_DIR) / "archive"


def _years_before(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - years, day=28)


def _year_start(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=UTC)


def sign(body: bytes) -> str:
    return hmac.new(settings.TRADEX_ARCHIVE_SIGNING_KEY.encode(), body, hashlib.sha256).hexdigest()


def _manifest_body(manifest: dict) -> bytes:
    """What the signature covers: the manifest without its signature, keys sorted."""
    return orjson.dumps({k: v for k, v in manifest.items() if k != "signature"}, option=orjson.OPT_SORT_KEYS)


def _event_line(ev: AuditEvent) -> bytes:
    return orjson.dumps({"chain": ev.chain, "seq": ev.seq, "occurred_at": ev.occurred_at.isoformat(),
                         "actor": ev.actor, "action": ev.action, "entity_type": ev.entity_type,
                         "entity_id": ev.entity_id, "data": ev.data, "prev_hash": ev.prev_hash, "hash": ev.hash},
                        option=orjson.OPT_SORT_KEYS) + b"\n"


def _chain_dir(chain: str) -> str:
    return chain or "system"


def _write_atomic(path: Path, content: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def archive_export(*, now: datetime | None = None, actor: str = "system:retention") -> list[ArchiveManifest]:
    """Export every (chain, year) not archived yet whose year ended before the accessible window.
    Periods of a chain are exported in order, each continuing the one before."""
    now = now or timezone.now()
    before_year = _years_before(now, settings.TRADEX_AUDIT_ACCESSIBLE_YEARS).year  # years < this are due
    due = (AuditEvent.objects.filter(occurred_at__lt=_year_start(before_year))
           .annotate(year=ExtractYear("occurred_at", tzinfo=UTC)).values("chain", "year")
           .annotate(first=Min("seq"), last=Max("seq"), n=Count("id")).order_by("chain", "year"))
    done = set(ArchiveManifest.objects.values_list("chain", "period"))
    made = []
    for period in due:
        if (period["chain"], str(period["year"])) in done:
            continue
        made.append(_export_one(period["chain"], period["year"], period["first"], period["last"], now=now, actor=actor))
    return made


def _export_one(chain: str, year: int, first_seq: int, last_seq: int, *, now: datetime, actor: str) -> ArchiveManifest:
    events = list(AuditEvent.objects.filter(chain=chain, seq__gte=first_seq, seq__lte=last_seq).order_by("seq"))
    if len(events) != last_seq - first_seq + 1 or any(ev.occurred_at.year != year for ev in events):
        raise RetentionError(f"chain {chain or 'system'} {year}: seq {first_seq}-{last_seq} is not one contiguous year")
    previous = ArchiveManifest.objects.filter(chain=chain, last_seq=first_seq - 1).first()
    if first_seq > 1 and previous is None:
        raise RetentionError(f"chain {chain or 'system'} {year}: the archive before seq {first_seq} is missing")
    directory = archive_root() / _chain_dir(chain) / str(year)
    directory.mkdir(parents=True, exist_ok=True)
    content = b"".join(_event_line(ev) for ev in events)
    _write_atomic(directory / EVENTS_FILE, content)
    retain_until = _year_start(year + 1 + settings.TRADEX_AUDIT_RETENTION_YEARS)
    manifest = {
        "format": FORMAT, "chain": chain, "period": str(year),
        "files": [{"name": EVENTS_FILE, "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content),
                   "events": len(events)}],
        "first_seq": first_seq, "last_seq": last_seq, "event_count": len(events),
        "first_prev_hash": events[0].prev_hash, "first_hash": events[0].hash, "last_hash": events[-1].hash,
        "created_at": now.isoformat(), "retain_until": retain_until.isoformat(),
    }
    manifest["signature"] = sign(_manifest_body(manifest))
    raw = orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)
    _write_atomic(directory / MANIFEST_FILE, raw)
    with transaction.atomic():
        row = ArchiveManifest.objects.create(
            chain=chain, period=str(year), first_seq=first_seq, last_seq=last_seq,
            first_prev_hash=events[0].prev_hash, first_hash=events[0].hash, last_hash=events[-1].hash,
            event_count=len(events), path=str((directory / MANIFEST_FILE).relative_to(archive_root())),
            manifest_sha256=hashlib.sha256(raw).hexdigest(), signature=manifest["signature"],
            retain_until=retain_until, created_by=actor)
        audit_record_system(actor=actor, action="archive.exported", entity_type="archivemanifest", entity_id=row.pk,
                            data={"chain": chain, "period": str(year), "first_seq": first_seq, "last_seq": last_seq,
                                  "manifest_sha256": row.manifest_sha256})
    return row


@dataclass
class ArchiveCheck:
    manifest: Path
    problems: list[str] = field(default_factory=list)
    events: int = 0
    row: ArchiveManifest | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def _manifest_path(ref: str | Path) -> Path:
    """A manifest file path, or an ArchiveManifest id."""
    if str(ref).isdigit():
        row = ArchiveManifest.objects.filter(pk=int(ref)).first()
        if row is None:
            raise RetentionError(f"no archive manifest {ref}")
        return archive_root() / row.path
    return Path(ref)


def archive_verify(ref: str | Path, *, mark: bool = True) -> ArchiveCheck:
    """Prove the archive at `ref` (manifest path or ArchiveManifest id) matches its chain. With
    `mark`, a clean check sets the row's verified_at (what the purge and the trigger require)."""
    path = _manifest_path(ref)
    check = ArchiveCheck(manifest=path)
    p = check.problems
    try:
        raw = path.read_bytes()
        manifest = orjson.loads(raw)
    except (OSError, orjson.JSONDecodeError) as exc:
        p.append(f"manifest unreadable: {exc}")
        return check
    if manifest.get("format") != FORMAT:
        p.append(f"unknown format {manifest.get('format')!r}")
        return check
    if not hmac.compare_digest(str(manifest.get("signature", "")), sign(_manifest_body(manifest))):
        p.append("manifest signature does not match (altered, or signed with another key)")
    chain = manifest["chain"]
    # The events, from the files the manifest names, each file's sha256 checked first.
    events = []
    for entry in manifest["files"]:
        try:
            content = (path.parent / entry["name"]).read_bytes()
        except OSError as exc:
            p.append(f"{entry['name']}: unreadable: {exc}")
            continue
        if hashlib.sha256(content).hexdigest() != entry["sha256"]:
            p.append(f"{entry['name']}: sha256 does not match the manifest")
        events.extend(orjson.loads(line) for line in content.splitlines() if line)
    check.events = len(events)
    # The chain inside the archive: contiguous seq, linked hashes, each hash recomputed.
    expected_seq, prev_hash = manifest["first_seq"], manifest["first_prev_hash"]
    for ev in events:
        if ev["chain"] != chain:
            p.append(f"seq {ev['seq']}: belongs to chain {ev['chain']!r}")
        if ev["seq"] != expected_seq:
            p.append(f"seq {ev['seq']}: expected {expected_seq}")
        if ev["prev_hash"] != prev_hash:
            p.append(f"seq {ev['seq']}: prev_hash does not match the previous event")
        recomputed = event_hash(chain=ev["chain"], seq=ev["seq"], occurred_at=datetime.fromisoformat(ev["occurred_at"]),
                                actor=ev["actor"], action=ev["action"], entity_type=ev["entity_type"],
                                entity_id=ev["entity_id"], data=ev["data"], prev_hash=ev["prev_hash"])
        if recomputed != ev["hash"]:
            p.append(f"seq {ev['seq']}: content does not match its hash")
        expected_seq, prev_hash = ev["seq"] + 1, ev["hash"]
    if len(events) != manifest["event_count"] or expected_seq != manifest["last_seq"] + 1:
        p.append(f"the files hold {len(events)} events ending at seq {expected_seq - 1}; the manifest says "
                 f"{manifest['event_count']} ending at {manifest['last_seq']}")
    if events and (events[0]["hash"] != manifest["first_hash"] or events[-1]["hash"] != manifest["last_hash"]):
        p.append("first/last hash differ from the manifest")
    # The record of the export, and continuity with what comes before and after.
    row = check.row = ArchiveManifest.objects.filter(chain=chain, period=manifest["period"]).first()
    if row is None:
        p.append("no ArchiveManifest records this export")
    elif (row.manifest_sha256 != hashlib.sha256(raw).hexdigest() or row.first_seq != manifest["first_seq"]
          or row.last_seq != manifest["last_seq"] or row.last_hash != manifest["last_hash"]):
        p.append("the manifest differs from the one recorded at export")
    first_seq, last_seq = manifest["first_seq"], manifest["last_seq"]
    if first_seq == 1:
        if manifest["first_prev_hash"] != GENESIS_HASH:
            p.append("seq 1 does not start from the genesis hash")
    else:
        before = AuditEvent.objects.filter(chain=chain, seq=first_seq - 1).values_list("hash", flat=True).first()
        if before is None:
            before = ArchiveManifest.objects.filter(chain=chain, last_seq=first_seq - 1).values_list(
                "last_hash", flat=True).first()
        if before != manifest["first_prev_hash"]:
            p.append(f"does not continue the chain at seq {first_seq - 1}")
    after = AuditEvent.objects.filter(chain=chain, seq=last_seq + 1).values_list("prev_hash", flat=True).first()
    if after is None:
        after = ArchiveManifest.objects.filter(chain=chain, first_seq=last_seq + 1).values_list(
            "first_prev_hash", flat=True).first()
    if after is not None and after != manifest["last_hash"]:
        p.append(f"the chain's seq {last_seq + 1} does not continue from this archive")
    remaining = dict(AuditEvent.objects.filter(chain=chain, seq__gte=first_seq, seq__lte=last_seq)
                     .values_list("seq", "hash"))
    archived = {ev["seq"]: ev["hash"] for ev in events}
    differ = [seq for seq, digest in remaining.items() if archived.get(seq) != digest]
    if differ:
        p.append(f"{len(differ)} row(s) still in the table differ from the archive (first seq {min(differ)})")
    if row is not None and row.purged_at is None and len(remaining) != len(archived):
        p.append(f"{len(archived) - len(remaining)} archived row(s) missing from the table before any purge")
    if mark and check.ok and row is not None:
        ArchiveManifest.objects.filter(pk=row.pk).update(verified_at=timezone.now())
        row.verified_at = timezone.now()
    return check


def active_holds():
    return LegalHold.objects.filter(released_at__isnull=True)


def _held(row: ArchiveManifest) -> str | None:
    """Why the events of `row` may not be deleted now, or None."""
    holds = active_holds()
    if holds.filter(scope=LegalHold.Scope.ALL).exists():
        return "legal hold on everything"
    if holds.filter(scope=LegalHold.Scope.ACCOUNT, chain=row.chain).exists():
        return "legal hold on the account"
    symbols = list(holds.filter(scope=LegalHold.Scope.SYMBOL).values_list("symbol", flat=True))
    if symbols and AuditEvent.objects.filter(chain=row.chain, seq__gte=row.first_seq, seq__lte=row.last_seq).alias(
            symbol=KeyTextTransform("symbol", "data")).filter(symbol__in=symbols).exists():
        return "legal hold on a symbol in the period"
    return None


@dataclass
class PurgeResult:
    deleted: int = 0
    purged: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)


def purge_manifest(row: ArchiveManifest, *, now: datetime | None = None, actor: str = "system:retention") -> int:
    """Delete the events archived by `row`; RetentionError says why not."""
    now = now or timezone.now()
    if connection.vendor != "postgresql":
        raise RetentionError("the audit purge runs only on PostgreSQL (compliance_audit_purge)")
    if row.purged_at is not None:
        raise RetentionError("already purged")
    if row.retain_until > now:
        raise RetentionError(f"retained until {row.retain_until:%Y-%m-%d}")
    if AuditEvent.objects.filter(chain=row.chain, seq__lt=row.first_seq).exists():
        raise RetentionError("an older period of the chain is still in the table: purge oldest first")
    head = AuditEvent.objects.filter(chain=row.chain).aggregate(head=Max("seq"))["head"]
    if head is not None and head <= row.last_seq:
        raise RetentionError("holds the chain's newest event, which new events continue from")
    reason = _held(row)
    if reason:
        raise RetentionError(reason)
    check = archive_verify(archive_root() / row.path)  # the files are still what was exported
    if not check.ok:
        raise RetentionError("archive does not verify: " + "; ".join(check.problems[:3]))
    with transaction.atomic():
        locked = ArchiveManifest.objects.select_for_update().get(pk=row.pk)
        if locked.purged_at is not None:
            raise RetentionError("already purged")
        with connection.cursor() as cursor:
            cursor.execute("SELECT compliance_audit_purge(%s, %s)", [row.chain, row.last_seq])
            deleted = cursor.fetchone()[0]
        ArchiveManifest.objects.filter(pk=row.pk).update(purged_at=now)
        row.purged_at = now
        audit_record_system(actor=actor, action="archive.purged", entity_type="archivemanifest", entity_id=row.pk,
                            data={"chain": row.chain, "period": row.period, "deleted": deleted,
                                  "through_seq": row.last_seq})
    return deleted


def purge_expired(*, now: datetime | None = None, actor: str = "system:retention") -> PurgeResult:
    """Every archived period past retention, oldest first per chain; held or unverifiable ones are
    skipped with the reason (and the chain's later periods wait for them)."""
    now = now or timezone.now()
    result = PurgeResult()
    blocked: set[str] = set()
    for row in ArchiveManifest.objects.filter(purged_at__isnull=True, retain_until__lte=now).order_by("chain", "first_seq"):
        if row.chain in blocked:
            result.skipped[row.pk] = "an older period of the chain was not purged"
            continue
        try:
            result.deleted += purge_manifest(row, now=now, actor=actor)
            result.purged.append(row.pk)
        except RetentionError as exc:
            result.skipped[row.pk] = str(exc)
            blocked.add(row.chain)
    return result


def legal_hold_place(*, actor: str, reason: str, scope: str, chain: str = "", symbol: str = "") -> LegalHold:
    if not reason.strip():
        raise RetentionError("a legal hold needs a reason")
    with transaction.atomic():
        hold = LegalHold.objects.create(scope=scope, chain=chain, symbol=symbol.upper(), reason=reason, placed_by=actor)
        audit_record_system(actor=actor, action="legalhold.placed", entity_type="legalhold", entity_id=hold.pk,
                            data={"scope": scope, "chain": chain, "symbol": hold.symbol, "reason": reason})
    return hold


def legal_hold_release(hold: LegalHold, *, actor: str, reason: str) -> LegalHold:
    if not reason.strip():
        raise RetentionError("releasing a legal hold needs a reason")
    with transaction.atomic():
        hold = LegalHold.objects.select_for_update().get(pk=hold.pk)
        if hold.released_at is not None:
            raise RetentionError("already released")
        hold.released_at, hold.released_by, hold.release_reason = timezone.now(), actor, reason
        hold.save(update_fields=["released_at", "released_by", "release_reason"])
        audit_record_system(actor=actor, action="legalhold.released", entity_type="legalhold", entity_id=hold.pk,
                            data={"reason": reason})
    return hold


def retention_run(*, now: datetime | None = None, actor: str = "system:retention") -> dict:
    """The scheduled job: export what left the accessible window, verify new archives, purge what
    passed retention."""
    now = now or timezone.now()
    exported = archive_export(now=now, actor=actor)
    failed = [str(row) for row in ArchiveManifest.objects.filter(verified_at__isnull=True)
              if not archive_verify(row.pk).ok]
    purge = purge_expired(now=now, actor=actor)
    return {"exported": len(exported), "unverified": failed, "purged": len(purge.purged), "deleted": purge.deleted,
            "skipped": {str(k): v for k, v in purge.skipped.items()}}
