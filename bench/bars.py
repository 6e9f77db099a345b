"""Bars bench: the year-of-1-minute-bars read path and the backfill, each beside its ceiling.

1. Backfill: `seed_demo`'s history (a year of 1-minute and daily bars for the 68 demo symbols,
   ~6.7M rows) into a fresh database (tradex_bench_bars), in rows/s; ceiling: raw psycopg binary
   COPY of the same rows (the same bytes, BENCH_BARS_COPY_SYMBOLS symbols' worth) into a scratch
   table shaped like the real one (same primary key).
2. Reads of one symbol's year of 1-minute bars (~98,000 bars), over HTTP from one daphne process:
   one page (10,000 bars) p50/p99, and the whole year paged through next_page_token; the
   selector's SQL alone (through Django); ceiling: the same SELECT by raw psycopg, and a bare
   `SELECT *` of the same rows.
3. Table size per million bars.

Run alone: `.venv/bin/python bench/bars.py` (about 90 s). Environment: BENCH_PG (server URL, default
postgres://postgres@127.0.0.1:5432), BENCH_BARS_REPEAT (timed repetitions, default 20),
BENCH_BARS_COPY_SYMBOLS (default 8), BENCH_BARS_KEEP=1 to reuse an existing backfilled database.
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import support  # noqa: E402
from bench.support import SMOKE, SMOKE_TAG, free_port, knob  # noqa: E402
PG_SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "tradex_bench_bars"
DB_URL = f"{PG_SERVER}/{DB_NAME}"
REPEAT = int(knob("BENCH_BARS_REPEAT", "20", "3"))
COPY_SYMBOLS = int(os.environ.get("BENCH_BARS_COPY_SYMBOLS", "8"))
KEEP = os.environ.get("BENCH_BARS_KEEP") == "1"
# Smoke: 60 days (still more than one 10,000-bar page of AAPL) of COPY_SYMBOLS symbols, not a year of 68.
DAYS = 60 if SMOKE else 365
APPLY_BATCHES = 10 if SMOKE else 100
SYMBOL = "AAPL"
BIN = Path(sys.executable).parent
ENV = {**os.environ, "DATABASE_URL": DB_URL, "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"),
       "TRADEX_MARKET_CLOCK": "always_open", "PYTHONUNBUFFERED": "1"}


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def ms(values) -> str:
    return f"p50 {pct(values, 50) * 1000:7.1f} ms  p99 {pct(values, 99) * 1000:7.1f} ms"


def manage(*args) -> str:
    return support.manage(ENV, *args)


def prepare() -> tuple[float, int]:
    """A fresh database with the full backfill; returns (seconds, rows) of the backfill alone."""
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
    if not (KEEP and exists):
        support.recreate_database(PG_SERVER, DB_NAME)
    manage("migrate", "--noinput", "-v", "0")
    manage("seed_demo", "--no-backfill")
    os.environ.update(DATABASE_URL=DB_URL, REDIS_URL=ENV["REDIS_URL"], DJANGO_SETTINGS_MODULE="tradex.settings")
    import django

    django.setup()
    from decimal import Decimal

    from django.utils import timezone

    from exchange_sim.config import reference_specs
    from marketdata.bars.backfill import bars_backfill
    from marketdata.models import Asset

    assets = Asset.objects.all()
    if SMOKE:
        assets = assets.filter(symbol__in={SYMBOL, *sorted(assets.values_list("symbol", flat=True))[:COPY_SYMBOLS - 1]})
    prices = {a.symbol: Decimal(a.last_price) for a in assets}
    began = time.perf_counter()
    done = bars_backfill(specs=reference_specs(prices), now=timezone.now(), days=DAYS)
    seconds = time.perf_counter() - began
    return seconds, done["minute_bars"] + done["daily_bars"]


def copy_ceiling() -> tuple[float, int]:
    """Raw binary COPY of the same rows (COPY_SYMBOLS symbols' payloads, built beforehand) into a scratch table."""
    from django.utils import timezone

    from exchange_sim.config import reference_specs
    from marketdata.bars import backfill
    from marketdata.models import Asset

    symbols = sorted(Asset.objects.values_list("symbol", flat=True))[:COPY_SYMBOLS]
    specs = reference_specs({a.symbol: a.last_price for a in Asset.objects.filter(symbol__in=symbols)})
    p = backfill.plan(now=timezone.now(), days=DAYS)
    minutes, firsts = backfill._minutes_of(p.sessions)
    payloads = [backfill.copy_payload(backfill.simulate(specs[s], minutes, firsts, seed=42)) for s in symbols]
    rows = len(minutes) * len(symbols)
    with psycopg.connect(DB_URL) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_bar_scratch")
        conn.execute("CREATE TABLE bench_bar_scratch (LIKE marketdata_bar_1min INCLUDING ALL)")
        conn.commit()
        began = time.perf_counter()
        for payload in payloads:
            with conn.cursor().copy(f"COPY bench_bar_scratch ({', '.join(backfill.COPY_COLUMNS)}) "
                                    "FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(payload)
            conn.commit()
        seconds = time.perf_counter() - began
        conn.execute("DROP TABLE bench_bar_scratch")
        conn.commit()
    return seconds, rows


def start_server(port: int):
    server = subprocess.Popen([str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "tradex.asgi:application"],
                              cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return server
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.1)
    server.kill()
    sys.exit("daphne did not start")


def api_key() -> dict:
    from accounts.services import account_create

    _account, key, secret = account_create(username=f"bench{time.time_ns()}", cash=0, account_type="cash")
    return {"APCA-API-KEY-ID": key.key_id, "APCA-API-SECRET-KEY": secret}


def http_reads(port: int, headers: dict, start: str, end: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    base = f"/v2/stocks/{SYMBOL}/bars?timeframe=1Min&limit=10000&start={start}&end={end}"

    def get(url):
        t = time.perf_counter()
        conn.request("GET", url, headers=headers)
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - t  # the client's JSON parsing is not the server's time
        if response.status != 200:
            sys.exit(f"GET {url}: {response.status} {body[:300]!r}")
        return elapsed, json.loads(body)

    def year():
        total, token, bars, pages, tokens = 0.0, None, 0, 0, []
        while True:
            elapsed, body = get(base + (f"&page_token={token}" if token else ""))
            total += elapsed
            bars += len(body["bars"])
            pages += 1
            token = body["next_page_token"]
            if token is None:
                return total, bars, pages, tokens
            tokens.append(token)

    _, bars, pages, tokens = year()  # warm-up, and the page tokens
    years = [year()[0] for _ in range(max(3, REPEAT // 5))]
    page_times = [get(base + (f"&page_token={tokens[i % len(tokens)]}" if i % (len(tokens) + 1) else ""))[0]
                  for i in range(REPEAT)]
    conn.close()
    return {"bars": bars, "pages": pages, "year": years, "page": page_times}


def sql_reads(start, end) -> dict:
    from marketdata.bars.query import _query_pg, page_params, page_sql, parse_timeframe

    tf = parse_timeframe("1Min")
    ours = []
    for _ in range(REPEAT + 2):
        t = time.perf_counter()
        rows = _query_pg([SYMBOL], tf, start, end, 10001, False, None, as_json=True)  # what the API runs
        ours.append(time.perf_counter() - t)
    assert len(rows) == 10001
    five = []
    for _ in range(max(3, REPEAT // 4)):
        t = time.perf_counter()
        _query_pg([SYMBOL], parse_timeframe("5Min"), start, end, 10001, False, None, as_json=True)
        five.append(time.perf_counter() - t)
    # Ceiling: the same SELECT text through a bare psycopg connection, and a bare SELECT *.
    sql = page_sql(tf, as_json=True)
    params = page_params([SYMBOL], tf, start, end, 10001, False, None)
    raw, bare = [], []
    with psycopg.connect(DB_URL) as conn:
        for _ in range(REPEAT + 2):
            t = time.perf_counter()
            conn.execute(sql, params).fetchall()
            raw.append(time.perf_counter() - t)
            t = time.perf_counter()
            conn.execute("SELECT * FROM marketdata_bar_1min WHERE symbol = %s AND start >= %s AND start <= %s "
                         "ORDER BY symbol, start LIMIT 10001", [SYMBOL, start, end]).fetchall()
            bare.append(time.perf_counter() - t)
        size, count, index = conn.execute(
            "SELECT pg_total_relation_size('marketdata_bar_1min'), (SELECT count(*) FROM marketdata_bar_1min), "
            "pg_relation_size('marketdata_bar_1min_pkey')").fetchone()
    return {"ours": ours[2:], "five": five, "raw": raw[2:], "bare": bare[2:], "size": size, "count": count,
            "index": index}


def apply_rate(batches: int = APPLY_BATCHES, size: int = 1000) -> dict:
    """bars_apply_trades on feed-like batches (68 symbols, 3 venues, trades 1 ms apart, in the
    future of the backfill so they create fresh bars); ceiling: the same two statements with the
    same pre-aggregated arrays through raw psycopg (the database's share alone)."""
    import random
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from marketdata.bars import BarTracker, bars_apply_trades
    from marketdata.bars import apply as bars_apply
    from marketdata.models import Asset
    from marketdata.ticks import TradeTick

    from django.db import connection

    with connection.cursor() as cur:  # a rerun (BENCH_BARS_KEEP=1) starts from the same state
        cur.execute("DELETE FROM marketdata_bar_cursor")
        cur.execute("DELETE FROM marketdata_bar_1min WHERE start > now()")
        cur.execute("DELETE FROM marketdata_bar_1day WHERE start > now()")
    symbols = sorted(Asset.objects.values_list("symbol", flat=True))
    rng = random.Random(1)
    t0 = timezone.now().replace(second=0, microsecond=0) + timedelta(days=30)
    seqs = {v: 0 for v in ("SIMA", "SIMB", "SIMC")}
    made = []
    for b in range(batches):
        batch = []
        for i in range(size):
            venue = rng.choice(("SIMA", "SIMB", "SIMC"))
            seqs[venue] += 1
            batch.append(TradeTick(rng.choice(symbols), venue, Decimal(rng.randint(10000, 50000)) / 100,
                                   Decimal(rng.randint(1, 500)), t0 + timedelta(milliseconds=b * size + i), seqs[venue]))
        made.append(batch)
    tracker, ours = BarTracker(), []
    bars_apply._aggregate(made[0][:1])  # the calendar table loads once per process (~0.4 s)
    for batch in made:
        t = time.perf_counter()
        bars_apply_trades(batch, now=batch[-1].ts, tracker=tracker)
        ours.append(time.perf_counter() - t)
    from marketdata.models import MinuteBar

    assert sum(MinuteBar.objects.filter(start__gte=t0).values_list("trade_count", flat=True)) == batches * size
    # Ceiling: the same statements and arrays (aggregated beforehand), shifted a day so they insert.
    raw = []
    with psycopg.connect(DB_URL) as conn:
        for batch in made:
            shifted = [TradeTick(x.symbol, x.venue, x.price, x.size, x.ts + timedelta(days=1), x.seq) for x in batch]
            minutes, days = bars_apply._aggregate(shifted)
            venues = sorted(seqs)
            args = [*bars_apply._arrays(minutes), *bars_apply._arrays(days), venues, [10**9] * len(venues)]
            t = time.perf_counter()
            conn.execute(bars_apply._CLAIM_SQL, [venues]).fetchall()
            conn.execute(bars_apply._APPLY_SQL, args).fetchall()
            conn.commit()
            raw.append(time.perf_counter() - t)
    return {"ours": ours, "raw": raw, "size": size}


def run(report=print) -> None:
    t0 = time.perf_counter()
    report(f"bench: bars ({f'{DAYS} days of 1-minute bars, {COPY_SYMBOLS} symbols' if SMOKE else 'a year of 1-minute bars, 68 symbols'})"
           f"{SMOKE_TAG} ...")
    backfill_s, backfill_rows = prepare()
    copy_s, copy_rows = copy_ceiling()
    from datetime import timedelta


    from marketdata.models import MinuteBar

    first = MinuteBar.objects.filter(symbol=SYMBOL).order_by("start").values_list("start", flat=True).first()
    last = MinuteBar.objects.filter(symbol=SYMBOL).order_by("-start").values_list("start", flat=True).first()
    start, end = first, last + timedelta(minutes=1)
    sql = sql_reads(start, end)
    port = free_port()
    headers = api_key()
    server = start_server(port)
    try:
        http_result = http_reads(port, headers, start.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ"))
    finally:
        server.terminate()
        server.wait(10)
    report(f"Bars ({sql['count']:,} 1-minute bars stored; {SYMBOL}: {http_result['bars']:,} bars in "
           f"{http_result['pages']} pages of 10,000){SMOKE_TAG}")
    if backfill_rows:
        report(f"  backfill (seed_demo, binary COPY)  {backfill_rows / backfill_s:10,.0f} rows/s  ({backfill_rows:,} rows "
               f"in {backfill_s:.1f} s) | ceiling: raw COPY of the same rows {copy_rows / copy_s:,.0f} rows/s")
    else:
        report(f"  backfill: kept from an earlier run (BENCH_BARS_KEEP=1) | raw COPY {copy_rows / copy_s:,.0f} rows/s")
    report(f"  GET one page (10,000 bars)         {ms(http_result['page'])} | ceiling: same SELECT, raw psycopg "
           f"{ms(sql['raw'])}")
    report(f"  GET the year, all pages            {ms(http_result['year'])}  (sum of the pages' times; 1 MB per page)")
    report(f"  the page's SQL alone (Django)      {ms(sql['ours'])} | ceiling: raw psycopg {ms(sql['raw'])}, "
           f"bare SELECT * {ms(sql['bare'])}  (target < 100 ms)")
    report(f"  5Min page from 1-minute (date_bin) {ms(sql['five'])}")
    applied = apply_rate()
    rate = applied["size"] * len(applied["ours"]) / sum(applied["ours"])
    report(f"  bars_apply_trades, {applied['size']}-trade batches {ms(applied['ours'])}  ({rate:,.0f} trades/s) | "
           f"ceiling: its two statements, raw psycopg {ms(applied['raw'])}")
    per_million = sql["size"] / sql["count"] * 1e6 / 2**20
    report(f"  table size: {sql['size'] / 2**20:,.0f} MiB for {sql['count']:,} bars = {per_million:,.0f} MiB per million "
           f"bars (primary key index {sql['index'] / sql['count'] * 1e6 / 2**20:,.0f} MiB of it)")
    report(f"  bench took {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    run()
