"""Journal snapshots and compaction: a restart loads the last snapshot and replays only the
journal written after it, and ends up exactly where a full replay would, whatever the moment of
the crash (before or after the snapshot's rename, with a torn last line)."""
import random
from dataclasses import replace
from decimal import Decimal as D

import pytest

from exchange_sim import Fill, JournalCorrupt, Venue, default_venues
from exchange_sim.journal import Journal
from tests.exchange_sim.conftest import SPECS, T0, FakeClock
from tests.exchange_sim.test_venue_journal import exec_ids, random_session

NEVER = {"snapshot_replay_budget_s": 0, "snapshot_max_bytes": 0}
OFTEN = {"snapshot_replay_budget_s": 0, "snapshot_max_bytes": 8_000}  # a snapshot every few dozen records


def open_venue(directory, clock, **overrides) -> Venue:
    config = replace(default_venues(3, symbols=list(SPECS), journal_dir=str(directory), seed=42, walk_anchor=T0)[0], **overrides)
    return Venue(config, SPECS, clock=clock)


def journal_files(directory):
    return sorted(p.name for p in directory.iterdir() if ".journal" in p.name)


def comparable(venue) -> tuple:
    return venue.state(), venue.orders_of("alice"), venue.orders_of("bob"), venue.replayed_fills()


def test_snapshot_and_tail_restart_equals_a_full_replay(tmp_path):
    full_dir, snap_dir = tmp_path / "full", tmp_path / "snap"
    full_clock, snap_clock = FakeClock(), FakeClock()
    full, snap = open_venue(full_dir, full_clock, **NEVER), open_venue(snap_dir, snap_clock, **OFTEN)
    for venue, clock in ((full, full_clock), (snap, snap_clock)):
        venue.step(clock.advance(0.25))
        random_session(venue, clock, random.Random(11), 600, "s1")
    assert full.state() == snap.state()
    assert (snap_dir / "SIMA.snapshot").exists() and journal_files(snap_dir) != ["SIMA.journal"], "it compacted"
    assert sum(p.stat().st_size for p in snap_dir.glob("SIMA.journal*")) < 8_000 + 1_000
    full.close(snapshot=False)
    snap.close(snapshot=False)  # both crash

    full, snap = open_venue(full_dir, full_clock, **NEVER), open_venue(snap_dir, snap_clock, **OFTEN)

    assert comparable(snap) == comparable(full)
    after_full = random_session(full, full_clock, random.Random(12), 300, "s2")
    after_snap = random_session(snap, snap_clock, random.Random(12), 300, "s2")
    assert after_snap == after_full, "the same events, ExecIDs and prices after the restart"
    assert exec_ids(after_snap) and snap.state() == full.state()


def session(venue, clock, seed=3, steps=200):
    return venue.step(clock.advance(0.25)) + random_session(venue, clock, random.Random(seed), steps, f"r{seed}")


def killed(*args):
    raise SystemExit("killed")


@pytest.mark.parametrize("crash_at", ["before anything was written", "archive appended, snapshot not renamed"])
def test_a_crash_after_the_new_segment_began_but_before_the_snapshot_was_in_place(tmp_path, clock, monkeypatch,
                                                                                   crash_at):
    venue = open_venue(tmp_path, clock, **NEVER)
    first = session(venue, clock)
    if crash_at == "before anything was written":
        monkeypatch.setattr(Journal, "write_snapshot", killed)
    else:
        monkeypatch.setattr("exchange_sim.journal.os.replace", killed)
    with pytest.raises(SystemExit):
        venue.snapshot()
    second = session(venue, clock, seed=4)  # appended to the new segment
    state = venue.state()
    venue.close(snapshot=False)
    monkeypatch.undo()
    assert journal_files(tmp_path) == ["SIMA.journal", "SIMA.journal.1"] and not (tmp_path / "SIMA.snapshot").exists()

    restarted = open_venue(tmp_path, clock, **NEVER)

    assert restarted.state() == state
    assert restarted.replayed_fills() == [e for e in first + second if isinstance(e, Fill)]
    archive = tmp_path / "SIMA.archive"
    assert not archive.exists() or archive.stat().st_size == 0, "lines of a snapshot never in place are cut off"


def test_a_crash_after_the_snapshot_rename_but_before_the_old_segments_were_deleted(tmp_path, clock, monkeypatch):
    venue = open_venue(tmp_path, clock, **NEVER)
    session(venue, clock)
    monkeypatch.setattr(Journal, "_delete_segments_before", killed)
    with pytest.raises(SystemExit):
        venue.snapshot()
    monkeypatch.undo()
    session(venue, clock, seed=4)
    state = venue.state()
    venue.close(snapshot=False)
    assert journal_files(tmp_path) == ["SIMA.journal", "SIMA.journal.1"]

    restarted = open_venue(tmp_path, clock, **NEVER)

    assert restarted.state() == state, "segment 0 is covered by the snapshot: not replayed twice"
    assert journal_files(tmp_path) == ["SIMA.journal.1"], "and deleted"
    after = session(restarted, clock, seed=5)
    ids = [int(x.split("-")[1]) for x in exec_ids(after)]
    assert ids and min(ids) == state["ids"][1] + 1, "ExecIDs go on from the snapshot's counter"


def test_a_torn_last_line_after_a_snapshot_is_ignored(tmp_path, clock):
    venue = open_venue(tmp_path, clock, **NEVER)
    session(venue, clock)
    venue.snapshot()
    session(venue, clock, seed=4)
    state = venue.state()
    venue.close(snapshot=False)
    tail = tmp_path / "SIMA.journal.1"
    size = tail.stat().st_size
    with open(tail, "ab") as f:
        f.write(b'{"c":"new","owner":"alice","cl":"torn","sym":"AAPL","si')
    (tmp_path / "SIMA.snapshot.tmp").write_bytes(b'{"version":1,"ven')  # a snapshot write cut short too
    with open(tmp_path / "SIMA.archive", "ab") as f:  # and the archive lines of a later one
        f.write(b'[2,"o",["SIMA-O99999","alice"')

    restarted = open_venue(tmp_path, clock, **NEVER)

    assert restarted.state() == state
    assert tail.stat().st_size == size
    assert restarted.order_status(owner="alice", cl_ord_id="torn").reason == "unknown_order"


def test_a_clean_shutdown_leaves_nothing_to_replay(tmp_path, clock):
    venue = open_venue(tmp_path, clock, **NEVER)
    session(venue, clock)
    venue.halt("MSFT", "news_pending")
    state = venue.state()
    venue.close()
    assert journal_files(tmp_path) == [], "the snapshot covers everything"

    restarted = open_venue(tmp_path, clock, **NEVER)

    assert restarted.state() == state and restarted.halted("MSFT") == "news_pending"


def test_a_damaged_snapshot_refuses_to_start(tmp_path, clock):
    venue = open_venue(tmp_path, clock, **NEVER)
    session(venue, clock)
    venue.close()
    (tmp_path / "SIMA.snapshot").write_bytes(b"garbage")
    with pytest.raises(JournalCorrupt):
        open_venue(tmp_path, clock, **NEVER)


def test_a_snapshot_keeps_the_circuit_breaker_window_and_an_automatic_halt(tmp_path, clock):
    venue = open_venue(tmp_path, clock, **NEVER)
    venue.step(clock.advance(0.25))
    start = venue.reference("AAPL")
    venue.set_reference("AAPL", start * D("1.06"))
    venue.step(clock.advance(60))
    venue.close()  # the breaker's window holds both prices
    restarted = open_venue(tmp_path, clock, **NEVER)
    restarted.set_reference("AAPL", start * D("1.12"))
    restarted.step(clock.advance(60))
    assert restarted.halted("AAPL").startswith("circuit_breaker"), "the move is measured across the restart"
    restarted.close()
    again = open_venue(tmp_path, clock, **NEVER)
    again.step(clock.advance(301))
    assert again.halted("AAPL") is None, "the halt's deadline survived the snapshot"


def test_the_archive_survives_the_remains_of_a_failed_append_between_two_snapshots(tmp_path, clock):
    venue = open_venue(tmp_path, clock, **NEVER)
    first = session(venue, clock)
    venue.snapshot()
    with open(tmp_path / "SIMA.archive", "ab") as f:  # an append that failed half-way, the venue went on
        f.write(b'[2,"o",["SIMA-O1",\n')
    second = session(venue, clock, seed=4)
    venue.snapshot()
    state = venue.state()
    venue.close(snapshot=False)

    restarted = open_venue(tmp_path, clock, **NEVER)

    assert restarted.state() == state
    assert restarted.replayed_fills() == [e for e in first + second if isinstance(e, Fill)]
