"""Audit search (the admin's filters) and retention: archive export and verification, legal holds,
and the one controlled deletion path the append-only trigger allows."""
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError

from compliance.models import ArchiveManifest, AuditEvent, LegalHold
from compliance.retention import (
    RetentionError,
    archive_export,
    archive_root,
    archive_verify,
    legal_hold_place,
    legal_hold_release,
    purge_expired,
    purge_manifest,
)
from compliance.selectors import audit_chain_breaks, audit_search
from compliance.services import GENESIS_HASH, event_hash

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _var_dir(tmp_path, settings):
    settings.VAR_DIR = tmp_path


def append(chain: str, when: datetime, *, action="order.placed", actor="api:alice", entity_type="order",
           entity_id=None, data=None) -> AuditEvent:
    """An event appended to `chain` at `when` (the past), hash-chained as audit_record does."""
    last = AuditEvent.objects.filter(chain=chain).order_by("-seq").values_list("seq", "hash").first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    entity_id = str(entity_id or uuid.uuid4())
    data = data if data is not None else {"symbol": "AAPL"}
    digest = event_hash(chain=chain, seq=seq, occurred_at=when, actor=actor, action=action, entity_type=entity_type,
                        entity_id=entity_id, data=data, prev_hash=prev)
    return AuditEvent.objects.create(chain=chain, seq=seq, occurred_at=when, actor=actor, action=action,
                                     entity_type=entity_type, entity_id=entity_id, data=data, prev_hash=prev,
                                     hash=digest)


def at(year, month=6, day=1):
    return datetime(year, month, day, 12, tzinfo=UTC)


@pytest.fixture
def old_chain():
    """One account's chain: 3 events in 2016, 2 in 2017 (both past the 7-year retention), 2 in
    2023 (archived: outside the 2-year accessible window, still retained), 1 this year."""
    chain = str(uuid.uuid4())
    for when in (at(2016, 3), at(2016, 7), at(2016, 11), at(2017, 2), at(2017, 9), at(2023, 1), at(2023, 5)):
        append(chain, when, data={"symbol": "MSFT" if when.year == 2017 else "AAPL"})
    append(chain, datetime.now(UTC) - timedelta(days=1))
    return chain


# --- search -----------------------------------------------------------------------------------

def test_search_filters_each_select_exactly_their_events():
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    order = uuid.uuid4()
    e1 = append(a, at(2026, 1, 5), entity_id=order, data={"symbol": "AAPL"})
    e2 = append(a, at(2026, 1, 6), action="order.filled", entity_id=order, data={"qty": "1"})
    e3 = append(b, at(2026, 2, 1), actor="admin:bob", data={"symbol": "MSFT"})
    e4 = append("", at(2026, 3, 1), action="asset.changed", actor="admin:bob", entity_type="asset", entity_id="AAPL",
                data={})

    def ids(text):
        return list(audit_search(text).values_list("id", flat=True))

    assert ids(f"account:{a}") == [e2.pk, e1.pk]  # newest first
    assert ids("account:system") == [e4.pk]
    assert ids("symbol:aapl") == [e1.pk]
    assert ids(f"order:{order}") == [e2.pk, e1.pk]
    assert ids("actor:admin:bob") == [e4.pk, e3.pk]
    assert ids("action:order.filled") == [e2.pk]
    assert ids("type:asset") == [e4.pk]
    assert ids("from:2026-01-06 to:2026-02-01") == [e3.pk, e2.pk]
    assert ids("from:2026-01-06T00:00:00Z to:2026-01-31") == [e2.pk]
    assert ids(f"account:{a} action:order.placed") == [e1.pk]
    assert ids("admin:bob") == [e4.pk, e3.pk]  # a bare term: account, entity id or actor


def test_admin_search_pages_without_counting_the_table(admin_client):
    a = str(uuid.uuid4())
    for day in range(1, 4):
        append(a, at(2026, 1, day))
    response = admin_client.get("/admin/compliance/auditevent/", {"q": f"account:{a} from:2026-01-02"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 2
    assert response.context["cl"].full_result_count is None  # show_full_result_count = False


# --- export and verification --------------------------------------------------------------------

def test_export_writes_signed_manifests_per_chain_and_year_that_verify(old_chain):
    made = archive_export()
    periods = sorted(m.period for m in made if m.chain == old_chain)
    assert periods == ["2016", "2017", "2023"]  # 2025 and later are readily accessible
    for row in made:
        manifest = json.loads((archive_root() / row.path).read_text())
        assert manifest["chain"] == row.chain and manifest["last_hash"] == row.last_hash
        check = archive_verify(archive_root() / row.path)
        assert check.ok, check.problems
    call_command("verify_archive", str(made[0].pk))
    assert archive_export() == []  # each period once
    assert ArchiveManifest.objects.filter(verified_at__isnull=False).count() == len(made)


def test_a_tampered_event_file_fails_verification(old_chain):
    row = next(m for m in archive_export() if m.chain == old_chain and m.period == "2016")
    events = archive_root() / row.path.replace("manifest.json", "events.jsonl")
    events.write_text(events.read_text().replace("api:alice", "api:mallory", 1))
    with pytest.raises(CommandError, match="does not verify"):
        call_command("verify_archive", str(archive_root() / row.path))
    problems = archive_verify(row.pk).problems
    assert any("sha256" in p for p in problems) and any("does not match its hash" in p for p in problems)


def test_a_tampered_manifest_fails_verification(old_chain):
    row = next(m for m in archive_export() if m.chain == old_chain and m.period == "2017")
    path = archive_root() / row.path
    manifest = json.loads(path.read_text())
    manifest["last_seq"] += 1
    path.write_text(json.dumps(manifest))
    problems = archive_verify(path).problems
    assert any("signature" in p for p in problems)
    assert any("recorded at export" in p for p in problems)


def test_an_archive_signed_with_another_key_fails(old_chain, settings):
    row = next(m for m in archive_export() if m.chain == old_chain)
    settings.TRADEX_ARCHIVE_SIGNING_KEY = "another key"
    assert any("signature" in p for p in archive_verify(row.pk).problems)


# --- purge, holds and the trigger ------------------------------------------------------------

def test_purge_deletes_only_archived_periods_past_retention_and_the_chain_still_verifies(old_chain):
    archive_export()
    result = purge_expired()
    assert result.deleted == 5  # 2016 and 2017; 2023 is archived but retained until 2031
    assert list(AuditEvent.objects.filter(chain=old_chain).values_list("seq", flat=True).order_by("seq")) == [6, 7, 8]
    assert audit_chain_breaks(chain=old_chain) == []
    for row in ArchiveManifest.objects.filter(chain=old_chain):
        assert archive_verify(row.pk).ok  # the purged archives still prove what was deleted
    assert AuditEvent.objects.filter(action="archive.purged").count() == 2


def test_deletion_without_an_archive_is_refused(old_chain):
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT compliance_audit_purge(%s, 5)", [old_chain])
    assert AuditEvent.objects.filter(chain=old_chain).count() == 8
    assert purge_expired().deleted == 0


def test_deletion_of_an_unverified_archive_is_refused(old_chain):
    archive_export()
    ArchiveManifest.objects.update(verified_at=None)
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT compliance_audit_purge(%s, 3)", [old_chain])


def test_a_tampered_archive_is_not_purged(old_chain):
    row = next(m for m in archive_export() if m.chain == old_chain and m.period == "2016")
    events = archive_root() / row.path.replace("manifest.json", "events.jsonl")
    events.write_bytes(events.read_bytes() + b"\n")
    with pytest.raises(RetentionError, match="does not verify"):
        purge_manifest(row)
    assert AuditEvent.objects.filter(chain=old_chain).count() == 8


@pytest.mark.parametrize("hold", [
    {"scope": LegalHold.Scope.ALL},
    {"scope": LegalHold.Scope.ACCOUNT, "chain": "CHAIN"},
    {"scope": LegalHold.Scope.SYMBOL, "symbol": "aapl"},
])
def test_a_legal_hold_blocks_deletion_until_released(old_chain, hold):
    for row in archive_export():
        assert archive_verify(row.pk).ok  # verified: only the hold stands in the way
    placed = legal_hold_place(actor="admin:carol", reason="SEC inquiry 42",
                              **{k: (old_chain if v == "CHAIN" else v) for k, v in hold.items()})
    result = purge_expired()
    assert result.deleted == 0 and "legal hold" in next(iter(result.skipped.values()))
    # Even the controlled path cannot delete held rows: the trigger checks the holds itself.
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT compliance_audit_purge(%s, 3)", [old_chain])
    legal_hold_release(placed, actor="admin:carol", reason="inquiry closed")
    assert purge_expired().deleted == 5
    actions = list(AuditEvent.objects.filter(chain="", entity_type="legalhold").values_list("action", flat=True))
    assert actions == ["legalhold.placed", "legalhold.released"]


def test_a_symbol_hold_on_another_symbol_does_not_block(old_chain):
    archive_export()
    legal_hold_place(actor="admin:carol", reason="TSLA matter", scope=LegalHold.Scope.SYMBOL, symbol="TSLA")
    assert purge_expired().deleted == 5


@pytest.mark.parametrize("sql", [
    "DELETE FROM compliance_auditevent",
    "UPDATE compliance_auditevent SET actor = 'someone else'",
])
def test_append_only_holds_outside_the_controlled_path_even_for_archived_rows(old_chain, sql):
    archive_export()
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    # Setting the flag by hand still only reaches archived, verified, expired, unheld rows; an
    # UPDATE is refused whatever the flag.
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL tradex.audit_purge = 'on'")
            cursor.execute(sql)
    assert AuditEvent.objects.filter(chain=old_chain).count() == 8


def test_settings_refuse_retention_below_the_regulatory_minimum():
    env = {**os.environ, "TRADEX_AUDIT_RETENTION_YEARS": "5"}
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0 and "regulatory minimum" in result.stderr
