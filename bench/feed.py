"""Quote ingest: the firehose venue (own process) -> feed handler -> tick store (binary COPY),
quote cache, per-symbol channel groups; beside raw psycopg binary COPY of the same rows into the
same table, measured in the same run.

Zero drops is checked by count: records the firehose sequenced = records the handler received =
ticks stored (SELECT count(*)), with no sequence gap.

Environment: BENCH_PG (server URL), BENCH_FEED_REDIS_URL, BENCH_FEED_RATES (comma-separated
quotes/s, default 100000,200000,300000), BENCH_FEED_SECONDS (default 10), BENCH_FEED_SYMBOLS (1000).
"""
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import support  # noqa: E402
from bench.support import SMOKE, SMOKE_TAG, knob  # noqa: E402
PG_SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "tradex_bench_feed"
REDIS_URL = os.environ.get("BENCH_FEED_REDIS_URL", "redis://127.0.0.1:6379/13")
RATES = [int(r) for r in knob("BENCH_FEED_RATES", "100000,200000,300000", "2000").split(",")]
SECONDS = float(knob("BENCH_FEED_SECONDS", "10", "2"))
SYMBOLS = int(knob("BENCH_FEED_SYMBOLS", "1000", "100"))
COPY_ROWS = 20_000 if SMOKE else 500_000  # rows of the raw COPY ceiling


def setup_django() -> None:
    support.recreate_database(PG_SERVER, DB_NAME)
    os.environ.update(DATABASE_URL=f"{PG_SERVER}/{DB_NAME}", REDIS_URL=REDIS_URL,
                      DJANGO_SETTINGS_MODULE="tradex.settings")
    support.manage(dict(os.environ), "migrate", "--noinput", "-v", "0")
    import django

    django.setup()


def copy_ceiling(rows: int) -> float:
    """rows/s of raw binary COPY of pre-encoded quote rows into the tick table (one transaction)."""
    import numpy as np

    from marketdata.ticks import store as tickstore

    now = time.time_ns()
    cols = {"ts": np.full(rows, now, dtype=np.int64), "symbol_id": np.arange(rows, dtype=np.int32) % SYMBOLS + 1,
            "venue_id": np.ones(rows, dtype=np.int16), "seq": np.arange(rows, dtype=np.int64),
            "bid": np.full(rows, 100_000_000), "bid_size": np.full(rows, 100_000_000),
            "ask": np.full(rows, 100_010_000), "ask_size": np.full(rows, 100_000_000)}
    payload = tickstore.encode_copy(tickstore.QUOTES, cols)
    with psycopg.connect(f"{PG_SERVER}/{DB_NAME}") as conn:
        with conn.cursor() as cur:
            tickstore.partitions_ensure(cur, [datetime.fromtimestamp(now // 10**9, timezone.utc).date()])
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur:
            with cur.copy(f"COPY {tickstore.QUOTES} ({', '.join(tickstore.COLUMNS[tickstore.QUOTES])}) "
                          "FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(payload)
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute(f"TRUNCATE {tickstore.QUOTES}")
        conn.commit()
    return rows / elapsed


def ingest(rate: int) -> dict:
    from django.db import connection

    from marketdata.feed.handler import FeedHandler

    with connection.cursor() as cur:
        cur.execute("TRUNCATE marketdata_quote_tick, marketdata_trade_tick")
    hose = subprocess.Popen([sys.executable, "-m", "exchange_sim.firehose", "--port", "0", "--symbols", str(SYMBOLS),
                             "--rate", str(rate), "--seconds", str(SECONDS), "--wait-subscriber"],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    port = int(hose.stdout.readline().split()[-1])
    handler = FeedHandler([("FIREHOSE", "127.0.0.1", port)]).start()
    started = time.perf_counter()
    sent = int(hose.stdout.readline().split()[2])  # "firehose sent N records": the run is over
    generate_s = time.perf_counter() - started
    hose.wait()
    c = handler.counters
    quotes_expected = handler.clients[0].counters.delivered  # all sequenced records reached us?
    deadline = time.perf_counter() + 120
    with handler.stored:
        handler.stored.wait_for(lambda: c.quotes_stored + c.trades_stored >= quotes_expected
                                or time.perf_counter() > deadline, 120)
    stored_s = time.perf_counter() - started
    handler.publisher.wait_idle(10)
    handler.stop()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM marketdata_quote_tick")
        quotes_in_db = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM marketdata_trade_tick")
        trades_in_db = cur.fetchone()[0]
        cur.execute("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_inherits i "
                    "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
                    "WHERE p.relname = 'marketdata_quote_tick'")
        quote_bytes = cur.fetchone()[0]
    cc = handler.clients[0].counters
    return {"rate": rate, "sent": sent, "received": cc.received, "gaps": cc.gaps, "missed": cc.missed,
            "stored": quotes_in_db + trades_in_db, "quotes": quotes_in_db, "generate_s": generate_s,
            "stored_s": stored_s, "hot_s": c.hot_seconds, "store_s": c.store_seconds, "batches": c.batches,
            "published": handler.publisher.counters.sent, "offered": handler.publisher.counters.offered,
            "mb_per_million": int(quote_bytes) / max(quotes_in_db, 1) * 1e6 / 2**20}


def run(report=print) -> None:
    setup_django()
    ceiling = copy_ceiling(COPY_ROWS)
    report(f"\nQuote ingest (firehose venue process, {SYMBOLS} symbols, 1 trade per 10 records, {SECONDS:.0f} s "
           f"per rate) vs raw binary COPY of the same rows{SMOKE_TAG}")
    report(f"  ceiling: raw psycopg binary COPY into marketdata_quote_tick: {ceiling:,.0f} rows/s")
    report(f"  {'offered/s':>10} {'sent':>9} {'received':>9} {'stored':>9} {'gaps':>5} {'ingest/s':>10} "
           f"{'vs COPY':>8} {'hot s':>6} {'store s':>7} {'batches':>7} {'group msgs':>10} {'MB/M quotes':>11}")
    for rate in RATES:
        r = ingest(rate)
        ingest_rate = r["stored"] / r["stored_s"]
        drops = "zero drops" if r["stored"] == r["sent"] and not r["gaps"] else f"DROPPED {r['sent'] - r['stored']}"
        report(f"  {rate:>10,} {r['sent']:>9,} {r['received']:>9,} {r['stored']:>9,} {r['gaps']:>5} "
               f"{ingest_rate:>10,.0f} {ingest_rate / ceiling:>8.1%} {r['hot_s']:>6.1f} {r['store_s']:>7.1f} "
               f"{r['batches']:>7} {r['published']:>10,} {r['mb_per_million']:>11.1f}  {drops}")
    report("  ingest/s = ticks stored / time from first record to last stored; hot s / store s = handler "
           "thread time in batches / COPY; group msgs = conflated per-symbol messages sent")


if __name__ == "__main__":
    run()
