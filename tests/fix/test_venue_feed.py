"""The simulator's venues publish their real books' quotes and trades on the binary feed; the feed
handler stores them, and a venue restarted from its journal keeps numbering above what it
published before, so no (venue, seq) is ever stored twice."""

from decimal import Decimal

import pytest
from django.db import connection

from marketdata.feed.handler import FeedHandler
from marketdata.selectors import latest_quotes

from .conftest import PRICES, free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fix_assets")]


@pytest.fixture(autouse=True)
def empty_tick_store():
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE marketdata_quote_tick, marketdata_trade_tick")


def counts():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT (venue_id, seq)), coalesce(max(seq), 0) FROM marketdata_quote_tick")
        return cursor.fetchone()


def test_venue_quotes_flow_to_the_tick_store_and_survive_a_venue_restart(venue_factory):
    feed_port = free_port()
    server = venue_factory("SIMA", feed_port=feed_port)
    handler = FeedHandler([("SIMA", "127.0.0.1", feed_port)]).start()
    try:
        client = handler.clients[0]
        assert client.wait_for(lambda c: c.snapshots >= 1)
        # The walk is a function of time: steps within one 0.25 s interval move nothing (the test
        # failed whenever the three steps below fell in the interval of the snapshot). Force moves.
        symbol = sorted(PRICES)[0]
        for i in range(3):
            server.venue.set_reference(symbol, PRICES[symbol] * (1 + Decimal(i + 1) / 100))
            server.venue.step()
            server.flush_public()
        assert client.wait_for(lambda c: client.last_seq == server.feed.last_seq)  # caught up
        assert handler.wait_stored(client.counters.delivered)
        total, distinct, last_seq = counts()
        assert total == distinct == client.counters.delivered > 0
        handler.publisher.wait_idle(5)
        quote = latest_quotes([sorted(PRICES)[0]])[sorted(PRICES)[0]]
        assert quote["bx"] == "SIMA" and 0 < float(quote["bp"]) < float(quote["ap"])

        server.stop()  # the venue goes down and comes back from its journal on the same ports
        server = venue_factory("SIMA", port=server.config.port, feed_port=feed_port)
        assert client.wait_for(lambda c: c.connects >= 2 and c.snapshots >= 2, timeout=20)
        server.venue.set_reference(symbol, PRICES[symbol] * Decimal("1.05"))
        server.venue.step()
        server.flush_public()
        assert client.wait_for(lambda c: client.last_seq == server.feed.last_seq), (client.counters, client.last_seq, server.feed.last_seq, server.feed.counters)
        assert handler.wait_stored(client.counters.delivered)
        total, distinct, new_last = counts()
        assert total == distinct == client.counters.delivered and new_last > last_seq
    finally:
        handler.stop()
