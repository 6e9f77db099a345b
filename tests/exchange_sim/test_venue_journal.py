"""A venue restarted after a crash rebuilds its books from its journal: same state, same ExecIDs
for what was already sent, new unique ExecIDs after, and a torn last line is ignored."""
import random
from decimal import Decimal as D

import pytest

from exchange_sim import CancelRejected, Fill, JournalCorrupt, Quote, Rejected, Trade

SYMBOLS = ("AAPL", "MSFT")


def random_session(venue, clock, rng: random.Random, steps: int, tag: str) -> list:
    """Orders, cancels, replaces and steps, as a broker and a timer would send them."""
    events, placed = [], []
    for i in range(steps):
        roll = rng.random()
        owner = rng.choice(["alice", "bob", "carol"])
        if roll < 0.08:
            events += venue.step(clock.advance(0.25))
        elif roll < 0.6 or not placed:
            symbol = rng.choice(SYMBOLS)
            ref = venue.reference(symbol)
            kind = rng.choice(["limit/day", "limit/gtc", "limit/ioc", "limit/fok", "market/day"])
            ord_type, tif = kind.split("/")
            price = (ref + D("0.01") * rng.randint(-15, 15)) if ord_type == "limit" else None
            cl = f"{tag}-{i}"
            answer = venue.new_order(owner=owner, cl_ord_id=cl, symbol=symbol, side=rng.choice(["buy", "sell"]),
                                     ord_type=ord_type, qty=D(rng.randint(1, 400)), price=price, tif=tif)
            events += answer
            if not isinstance(answer[0], Rejected):
                placed.append((owner, cl))
        elif roll < 0.8:
            owner, cl = rng.choice(placed)
            events += venue.cancel(owner=owner, cl_ord_id=f"{tag}-{i}", orig_cl_ord_id=cl)
        else:
            owner, cl = rng.choice(placed)
            status = venue.order_status(owner=owner, cl_ord_id=cl)
            new_price = None if status.price is None else status.price + D("0.01") * rng.randint(-3, 3)
            answer = venue.replace(owner=owner, cl_ord_id=f"{tag}-{i}", orig_cl_ord_id=cl,
                                   qty=D(rng.randint(1, 400)), price=new_price)
            events += answer
            if not isinstance(answer[0], CancelRejected):
                placed.append((owner, f"{tag}-{i}"))
    return events


def exec_ids(events) -> list[str]:
    return [e.exec_id for e in events if isinstance(e, Fill)]


def test_restart_rebuilds_identical_state_and_never_reuses_an_exec_id(make_venue, clock):
    venue = make_venue()
    venue.step(clock.advance(0.25))
    first = random_session(venue, clock, random.Random(7), 400, "s1")
    state = venue.state()
    statuses = venue.orders_of("alice")
    assert len(exec_ids(first)) > 50  # the session really traded
    venue.close(snapshot=False)  # the process dies here; nothing else is saved

    restarted = make_venue()

    assert restarted.state() == state
    assert restarted.orders_of("alice") == statuses
    assert restarted.replayed_fills() == [e for e in first if isinstance(e, Fill)], "same fills, same ExecIDs"
    second = random_session(restarted, clock, random.Random(8), 400, "s2")
    all_ids = exec_ids(first) + exec_ids(second)
    assert exec_ids(second) and len(set(all_ids)) == len(all_ids)
    numbers = [int(x.split("-")[1]) for x in all_ids]
    assert numbers == sorted(numbers)


def test_replay_regenerates_the_same_exec_ids_and_public_sequence(make_venue, clock):
    venue = make_venue()
    seen = []
    venue.add_listener(seen.append)
    venue.step(clock.advance(0.25))
    events = random_session(venue, clock, random.Random(3), 150, "s")
    venue.close()

    restarted = make_venue()
    replayed = []
    restarted.add_listener(replayed.append)
    assert replayed == []  # listeners are muted during replay (they were added after, too)
    after = restarted.step(clock.advance(0.25))
    sequenced = [e.seq for e in seen + replayed if isinstance(e, (Trade, Quote))]
    assert sequenced == list(range(1, len(sequenced) + 1)), "one gapless sequence across the restart"
    assert restarted.state()["ids"][1] == len(exec_ids(events)) + len(exec_ids(after))


def test_a_torn_last_line_is_ignored(make_venue, clock, tmp_path):
    venue = make_venue()
    venue.step(clock.advance(0.25))
    random_session(venue, clock, random.Random(5), 100, "s")
    state = venue.state()
    venue.close(snapshot=False)  # a crash
    journal = tmp_path / "SIMA.journal"
    size = journal.stat().st_size
    with open(journal, "ab") as f:  # a crash in the middle of writing a command
        f.write(b'{"c":"new","owner":"alice","cl":"torn","sym":"AAPL","side":"buy","ty')

    restarted = make_venue()

    assert restarted.state() == state
    assert journal.stat().st_size == size, "the torn tail is cut off before appending"
    assert restarted.order_status(owner="alice", cl_ord_id="torn").reason == "unknown_order"
    restarted.new_order(owner="alice", cl_ord_id="after", symbol="AAPL", side="buy", ord_type="limit",
                        qty=D(1), price=D("90.00"), tif="gtc")
    restarted.close()
    again = make_venue()
    assert again.order_status(owner="alice", cl_ord_id="after").status == "new"


def test_a_damaged_line_before_the_end_refuses_to_start(make_venue, clock, tmp_path):
    venue = make_venue()
    venue.step(clock.advance(0.25))
    venue.close(snapshot=False)
    journal = tmp_path / "SIMA.journal"
    journal.write_bytes(b"garbage\n" + journal.read_bytes())
    with pytest.raises(JournalCorrupt):
        make_venue()


def test_each_venue_journals_separately_and_exec_ids_carry_the_venue(make_venue, clock):
    a, b = make_venue(0), make_venue(1)
    for venue in (a, b):
        venue.step(clock.advance(0.25))
    ids = []
    for venue in (a, b):
        ids += exec_ids(venue.new_order(owner="alice", cl_ord_id="m1", symbol="AAPL", side="buy",
                                        ord_type="market", qty=D(100), tif="day"))
    assert ids == ["SIMA-1", "SIMB-1"]


def test_concurrent_callers_keep_the_book_sound_and_exec_ids_unique(make_venue, clock):
    """QuickFIX calls back on its own threads: the venue lock serialises them."""
    import threading

    venue = make_venue()
    venue.step(clock.advance(0.25))
    results: list = []

    def trader(n):
        rng = random.Random(n)
        for i in range(200):
            results.extend(venue.new_order(owner=f"t{n}", cl_ord_id=str(i), symbol="AAPL",
                                           side=rng.choice(["buy", "sell"]), ord_type="limit", qty=D(rng.randint(1, 300)),
                                           price=D("100.00") + D("0.01") * rng.randint(-5, 5), tif="day"))

    threads = [threading.Thread(target=trader, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    ids = exec_ids(results)
    assert ids and len(set(ids)) == len(ids)
    bid, ask = venue.engine("AAPL").best_bid(), venue.engine("AAPL").best_ask()
    # The book is never crossed; random orders may have emptied a side (best_bid() is then None).
    assert bid is None or ask is None or bid[0] < ask[0]
    state = venue.state()
    venue.close()
    assert make_venue().state() == state
