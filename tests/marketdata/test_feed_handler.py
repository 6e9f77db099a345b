"""The feed handler against real venue feed publishers over TCP, PostgreSQL and Redis.

What a feed must not do: drop quotes without anyone knowing, or serve stale prices. Here every
record a venue sequences is either stored exactly once or accounted for (a gap the client saw and
recovered through a snapshot), and a malformed message is counted and skipped."""
import socket
import threading
from datetime import datetime, timezone
from decimal import Decimal

import numpy as np
import pytest
from django.db import connection

from exchange_sim import events as ev
from core.wire import feed_protocol as fp
from exchange_sim.feed import FeedPublisher
from exchange_sim.firehose import Firehose, firehose_symbols
from marketdata.feed.handler import FeedHandler
from marketdata.groups import symbol_group, user_group
from marketdata.models import PriceAlert
from marketdata.selectors import last_prices, latest_quotes
from marketdata.services import alert_create
from tests.factories import make_account, make_asset

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("empty_tick_store")]


@pytest.fixture
def feeds():
    """Start publishers and handlers; stop them all at the end."""
    started = []

    def publisher(name="SIMA", symbols=None, **kw):
        pub = FeedPublisher(name, symbols or firehose_symbols(50), **kw).start()
        started.append(pub)
        return pub

    def handler(*pubs, **kw):
        h = FeedHandler([(p.name, "127.0.0.1", p.port) for p in pubs], **kw).start()
        started.append(h)
        for client in h.clients:
            assert client.wait_for(lambda c: c.snapshots >= 1), "no snapshot on connect"
        return h

    yield publisher, handler
    for item in reversed(started):
        item.stop()


def stored_counts():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT (venue_id, seq)) FROM marketdata_quote_tick")
        quotes = cursor.fetchone()
        cursor.execute("SELECT count(*), count(DISTINCT (venue_id, seq)) FROM marketdata_trade_tick")
        trades = cursor.fetchone()
    return quotes, trades


def split(records):
    return int((records["kind"] == fp.QUOTE).sum()), int((records["kind"] == fp.TRADE).sum())


def quote(symbol, bid, ask, size="100"):
    return ev.Quote(symbol, Decimal(bid), Decimal(size), Decimal(ask), Decimal(size), datetime.now(timezone.utc), 0)


def trade(symbol, price, qty="10"):
    return ev.Trade(symbol, Decimal(price), Decimal(qty), datetime.now(timezone.utc), 0)


def test_every_sequenced_tick_is_stored_exactly_once(feeds):
    publisher, handler = feeds
    pub = publisher()
    h = handler(pub)
    hose = Firehose(pub, rate=1)
    sent = [hose.batch(500) for _ in range(10)]
    for records in sent:
        pub.publish_records(records)
    quotes = sum(split(r)[0] for r in sent)
    trades = sum(split(r)[1] for r in sent)

    assert h.wait_stored(quotes, trades)
    assert stored_counts() == ((quotes, quotes), (trades, trades))
    c = h.clients[0].counters
    assert (c.received, c.delivered, c.gaps, c.skipped, c.malformed_records) == (5000, 5000, 0, 0, 0)


def test_a_gap_is_counted_and_recovered_through_a_snapshot(feeds):
    publisher, handler = feeds
    pub = publisher()
    h = handler(pub)
    client = h.clients[0]
    hose = Firehose(pub, rate=1)
    first = hose.batch(100)
    pub.publish_records(first)
    with pub._lock:
        pub._next_seq += 7  # the venue sequenced 7 records this subscriber never got
    lost = hose.batch(50)
    pub.publish_records(lost)
    assert client.wait_for(lambda c: c.snapshots >= 2), "the gap did not trigger a snapshot"
    after = hose.batch(100)
    pub.publish_records(after)

    q = split(first)[0] + split(after)[0]
    t = split(first)[1] + split(after)[1]
    assert h.wait_stored(q, t)
    c = client.counters
    assert (c.gaps, c.missed, c.skipped) == (1, 7, 50)
    assert stored_counts() == ((q, q), (t, t))
    # the snapshot brought the latest quote of every symbol, including those only in `lost`
    last = lost[lost["kind"] == fp.QUOTE][-1]
    symbol = pub.directory[int(last["symbol_id"])]
    h.publisher.wait_idle(5)
    cached = latest_quotes([symbol])[symbol]
    assert cached is not None and cached["t"] >= datetime.fromtimestamp(int(last["ts_ns"]) / 1e9, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def test_restarted_handler_resumes_from_the_snapshot_without_duplicates(feeds):
    publisher, handler = feeds
    pub = publisher()
    hose = Firehose(pub, rate=1)
    first_handler = handler(pub)
    a = hose.batch(300)
    pub.publish_records(a)
    assert first_handler.wait_stored(*split(a))
    first_handler.stop()  # the feed process goes away; the venue keeps publishing
    b = hose.batch(300)
    pub.publish_records(b)

    second = handler(pub)
    c = hose.batch(300)
    pub.publish_records(c)
    assert second.wait_stored(*split(c))

    q, t = split(a)[0] + split(c)[0], split(a)[1] + split(c)[1]
    assert stored_counts() == ((q, q), (t, t))  # B was never stored twice, nor A, nor C


def test_consolidated_best_bid_and_offer_across_venues(feeds, group_listener):
    publisher, handler = feeds
    venue_a = publisher("SIMA", ["AAPL"])
    venue_b = publisher("SIMB", ["AAPL"])
    listener = group_listener(symbol_group("AAPL"))
    h = handler(venue_a, venue_b)

    venue_a.publish([quote("AAPL", "100.00", "100.10")])
    venue_b.publish([quote("AAPL", "100.02", "100.12", size="300")])
    message = listener.receive_until(lambda m: m["q"] and m["q"]["bp"] == "100.02" and m["q"]["ap"] == "100.1")
    assert message is not None, "no consolidated quote published"
    assert (message["q"]["bx"], message["q"]["ax"], message["q"]["bs"]) == ("SIMB", "SIMA", "300")
    h.publisher.wait_idle(5)
    assert latest_quotes(["AAPL"])["AAPL"]["bp"] == "100.02"

    venue_b.stop()  # its quotes no longer stand
    message = listener.receive_until(lambda m: m["q"] and m["q"]["bx"] == "SIMA")
    assert message is not None and message["q"]["bp"] == "100"


def test_trades_update_last_price_and_reach_the_symbol_group(feeds, group_listener):
    make_asset("MSFT", price="400.00")
    publisher, handler = feeds
    pub = publisher("SIMA", ["MSFT"])
    listener = group_listener(symbol_group("MSFT"))
    handler(pub)
    pub.publish([trade("MSFT", "401.25", "5")])
    message = listener.receive_until(lambda m: m["t"])
    assert message["t"][0]["p"] == "401.25" and message["t"][0]["s"] == "5" and message["t"][0]["x"] == "SIMA"
    assert last_prices(["MSFT"]) == {"MSFT": Decimal("401.25")}


def test_malformed_frames_and_records_are_counted_and_skipped(transactional_db):
    """A venue that sends a body of the wrong size, a record for an unknown symbol and then bytes
    that are not a frame: the good records are stored, the rest counted, and the client reconnects."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    records = np.zeros(3, dtype=fp.RECORD)
    records["seq"] = [1, 2, 3]
    records["ts_ns"] = 1_700_000_000_000_000_000
    records["symbol_id"] = [1, 99, 1]  # 99 is in no directory
    records["kind"] = fp.QUOTE
    records["px"], records["ask"], records["sz"], records["ask_sz"] = 100_000_000, 100_010_000, 1, 1
    connected = threading.Event()

    def venue():
        conn, _ = server.accept()
        conn.sendall(fp.directory_frame({1: "ZZZ"}, epoch=1)
                     + fp.snapshot_frame(np.zeros(0, dtype=fp.RECORD), as_of=0)
                     + fp.frame(fp.KIND_DATA, records[:1].tobytes(), count=2, first_seq=1)  # count lies
                     + fp.data_frame(records)
                     + b"\x00garbage-not-a-frame\x00\x00\x00\x00")
        conn2, _ = server.accept()  # the client reconnects after the garbage
        connected.set()
        conn2.close()
        conn.close()

    thread = threading.Thread(target=venue, daemon=True)
    thread.start()
    h = FeedHandler([("BAD", "127.0.0.1", port)]).start()
    try:
        assert h.wait_stored(2)
        assert connected.wait(10)
        c = h.clients[0].counters
        assert c.malformed_frames >= 2 and c.malformed_records == 1 and c.connects >= 2
        assert stored_counts()[0] == (2, 2)
    finally:
        h.stop()
        server.close()


def test_price_alert_fires_exactly_once_and_survives_a_restart(feeds, group_listener):
    make_asset("AAPL", price="100.00")
    account = make_account()
    user = account.user
    above = alert_create(user=user, symbol="AAPL", condition="above", price="101.00")
    listener = group_listener(user_group(user.pk))
    publisher, handler = feeds
    pub = publisher("SIMA", ["AAPL"])
    h = handler(pub)
    below = alert_create(user=user, symbol="AAPL", condition="below", price="99.00")  # created while running

    pub.publish([trade("AAPL", "100.50")])
    pub.publish([trade("AAPL", "101.20")])
    message = listener.receive_until(lambda m: m.get("kind") == "alert")
    assert message["data"]["id"] == str(above.pk) and message["data"]["triggered_price"] == "101.2"
    pub.publish([trade("AAPL", "102.00")])
    pub.publish([trade("AAPL", "98.90")])
    message = listener.receive_until(lambda m: m.get("kind") == "alert")
    assert message["data"]["id"] == str(below.pk)
    h.wait_stored(0, 4)
    assert h.counters.alerts_fired == 2
    above.refresh_from_db()
    assert above.status == PriceAlert.Status.TRIGGERED and above.triggered_price == Decimal("101.2")

    h.stop()
    again = alert_create(user=user, symbol="AAPL", condition="above", price="105")
    restarted = handler(pub)
    assert len(restarted.alerts) == 1  # only the active one is loaded
    pub.publish([trade("AAPL", "106")])
    message = listener.receive_until(lambda m: m.get("kind") == "alert")
    assert message["data"]["id"] == str(again.pk)
    assert PriceAlert.objects.filter(status=PriceAlert.Status.TRIGGERED).count() == 3


def test_alerts_watch_the_price_the_user_picked(feeds, group_listener):
    """Alerts triggered on the last trade only: a trader watching the bid (to sell into it) or the
    ask (to buy) had no way to say so (issue 13, item 8)."""
    make_asset("AAPL", price="100.00")
    user = make_account().user
    on_bid = alert_create(user=user, symbol="AAPL", condition="above", source="bid", price="101.00")
    on_ask = alert_create(user=user, symbol="AAPL", condition="below", source="ask", price="99.00")
    on_last = alert_create(user=user, symbol="AAPL", condition="above", price="101.00")
    listener = group_listener(user_group(user.pk))
    publisher, handler = feeds
    pub = publisher("SIMA", ["AAPL"])
    h = handler(pub)
    pub.publish([quote("AAPL", "101.10", "101.20")])  # the bid crosses 101; no trade yet
    message = listener.receive_until(lambda m: m.get("kind") == "alert")
    assert message["data"]["id"] == str(on_bid.pk) and message["data"]["source"] == "bid"
    assert message["data"]["triggered_price"] == "101.1"
    pub.publish([quote("AAPL", "98.80", "98.90")])  # the ask falls below 99
    message = listener.receive_until(lambda m: m.get("kind") == "alert")
    assert message["data"]["id"] == str(on_ask.pk) and message["data"]["triggered_price"] == "98.9"
    pub.publish([trade("AAPL", "101.50")])
    message = listener.receive_until(lambda m: m.get("kind") == "alert")
    assert message["data"]["id"] == str(on_last.pk)
    h.wait_stored(2, 1)
    assert h.counters.alerts_fired == 3


def test_trades_build_minute_bars_and_closed_bars_reach_the_group(feeds, group_listener):
    from datetime import timedelta

    from marketdata.bars import bars_apply_trades
    from marketdata.models import MinuteBar
    from marketdata.selectors import latest_quotes, latest_trades

    make_asset("AAPL", price="100.00")
    publisher, handler = feeds
    pub = publisher("SIMA", ["AAPL"])
    listener = group_listener(symbol_group("AAPL"))
    h = handler(pub, trade_sinks=[bars_apply_trades])
    minute = (datetime.now(timezone.utc) - timedelta(minutes=3)).replace(second=0, microsecond=0)
    prints = [("100.10", "10", 5), ("100.30", "20", 20), ("99.90", "5", 40), ("100.00", "15", 55)]
    pub.publish([ev.Trade("AAPL", Decimal(p), Decimal(q), minute + timedelta(seconds=s), 0) for p, q, s in prints])
    pub.publish([quote("AAPL", "99.99", "100.01")])

    message = listener.receive_until(lambda m: m["b"])
    bar = message["b"][0]
    assert (bar["o"], bar["h"], bar["l"], bar["c"], bar["v"], bar["n"]) == ("100.1", "100.3", "99.9", "100", "50", 4)
    indicators = message["i"]
    assert indicators["t"] == bar["t"] and indicators["v"]["sma:20"] is None  # warming up: one bar so far
    assert Decimal(indicators["v"]["vwap"]) == Decimal(bar["vw"]) == Decimal("100.13")  # the session's one bar
    stored = MinuteBar.objects.get(symbol="AAPL", start=minute)
    assert (stored.high, stored.low, stored.volume) == (Decimal("100.3"), Decimal("99.9"), Decimal("50"))
    h.publisher.wait_idle(5)
    assert latest_trades(["AAPL"])["AAPL"]["p"] == "100"
    assert latest_quotes(["AAPL"])["AAPL"]["bp"] == "99.99"


def test_a_price_drop_on_the_feed_reaches_the_margin_monitor(feeds):
    """The configured listener (the portfolio's margin monitor) sees the feed's prices: a print far
    below a margin account's cost issues the call, with no query per quote on the feed's side."""
    from accounts.services import account_create
    from marketdata.feed.runtime import feed_handler_from_settings
    from portfolio.models import MarginCall
    from tests.portfolio.conftest import trade as fill

    make_asset("AAPL", price="100.00")
    account, _, _ = account_create(username="margin-feed", cash=Decimal(10000), account_type="margin")
    fill(account, "buy", 200, "100")
    publisher, _ = feeds
    pub = publisher("SIMA", ["AAPL"])
    h = feed_handler_from_settings([("SIMA", "127.0.0.1", pub.port)]).start()
    try:
        monitor = next(x for x in h.listeners if type(x).__name__ == "PortfolioMonitor")
        assert h.clients[0].wait_for(lambda c: c.snapshots >= 1)
        pub.publish([trade("AAPL", "65.00")])
        assert monitor.handled.wait(timeout=10)
        assert MarginCall.objects.get(account=account).status == "open"
    finally:
        h.stop()
