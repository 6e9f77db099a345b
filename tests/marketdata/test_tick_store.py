"""The tick store on plain PostgreSQL: day partitions created ahead, old ones dropped per retention,
BRIN on ts, and ticks written by binary COPY read back exactly."""
from datetime import date, timedelta

import numpy as np
import pytest
from django.db import connection

from marketdata.ticks import store as tickstore
from marketdata.feed.handler import tickstore_write

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("empty_tick_store")]


def partitions():
    with connection.cursor() as cursor:
        return tickstore.existing_partitions(cursor)


def test_partitions_are_created_ahead_and_retired(settings):
    settings.TRADEX_TICK_RETENTION_DAYS = 30
    settings.TRADEX_TICK_PARTITIONS_AHEAD = 3
    today = date(2026, 3, 10)
    old = today - timedelta(days=45)
    with connection.cursor() as cursor:
        tickstore.partitions_ensure(cursor, [old])
    result = tickstore.partitions_maintain(today=today)
    days = partitions()[tickstore.QUOTES]
    assert {today + timedelta(days=i) for i in range(-1, 4)} <= days
    assert old not in days and tickstore.partition_name(tickstore.QUOTES, old) in result["dropped"]
    assert tickstore.partitioned() and not tickstore.timescale_available()


def test_copy_roundtrip_is_exact():
    ts = np.array([1_767_225_600_123_456_000, 1_767_225_601_000_001_000], dtype=np.int64)  # 2026-01-01
    cols = {"ts": ts, "symbol_id": np.array([1, 2], dtype=np.int32), "venue_id": np.array([1, 1], dtype=np.int16),
            "seq": np.array([10, 11], dtype=np.int64), "bid": np.array([229_500_000, 0], dtype=np.int64),
            "bid_size": np.array([100_000_000, 0], dtype=np.int64), "ask": np.array([229_510_000, 5_000_000]),
            "ask_size": np.array([200_000_000, 1_000_000])}
    tickstore_write(cols, None)
    with connection.cursor() as cursor:
        cursor.execute("SELECT ts, symbol_id, seq, bid, ask FROM marketdata_quote_tick ORDER BY seq")
        rows = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'marketdata_quote_tick_p%%' "
                       "AND indexdef LIKE '%%USING brin%%'")
        brin = cursor.fetchone()[0]
    assert [(r[0].isoformat(), r[1], r[2], r[3], r[4]) for r in rows] == [
        ("2026-01-01T00:00:00.123456+00:00", 1, 10, 229_500_000, 229_510_000),
        ("2026-01-01T00:00:01.000001+00:00", 2, 11, 0, 5_000_000)]
    assert brin >= 1
