"""Portfolio benchmarks, each figure beside a ceiling measured in the same run.

1. Valuation through the API: GET /v2/positions and GET /v2/account of an account holding 50, 500
   and 1,000 positions (p50/p99 ms; target < 20 ms at 1,000), through the whole Django
   stack in-process (API-key authentication, DRF, serialisation; no HTTP socket). Ceiling: the
   same SQL statements the request runs (captured from Django), replayed with psycopg on one
   connection, plus the same one Redis MGET of the prices - what the request cannot go below.
2. Margin monitor throughput: 100,000 margin accounts in memory holding 1-12 of 2,000 symbols
   (Zipf-like popularity: a few names held by many accounts, a long tail held by few); batches of
   moved symbols fed to PortfolioMonitor.on_prices. Reported: symbol price updates/s and account
   revaluations/s. Ceiling: a bare Python loop doing just `value[account] += qty * delta` (Decimal)
   over the same holders for the same batches.

Standalone: `.venv/bin/python bench/portfolio.py` (own database tradex_bench_portfolio, dropped
and recreated; BENCH_PG, BENCH_PORTFOLIO_REDIS_URL, BENCH_VALUATION_REQUESTS, BENCH_MONITOR_ACCOUNTS,
BENCH_MONITOR_SECONDS). From bench/run.py: `from bench.portfolio import run; run(report=print)`.
"""
from __future__ import annotations

import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "tradex_bench_portfolio"
REDIS_URL = os.environ.get("BENCH_PORTFOLIO_REDIS_URL", "redis://127.0.0.1:6379/2")
from bench.support import SMOKE, SMOKE_TAG, knob  # noqa: E402

REQUESTS = int(knob("BENCH_VALUATION_REQUESTS", "200", "20"))
MONITOR_ACCOUNTS = int(knob("BENCH_MONITOR_ACCOUNTS", "100000", "2000"))
MONITOR_SECONDS = float(knob("BENCH_MONITOR_SECONDS", "8", "1"))
SIZES = (20, 100) if SMOKE else (50, 500, 1000)
SYMBOLS = 2000
BATCH = 100  # symbols moved per feed batch
D = Decimal


def _setup_django() -> None:
    from bench import support

    support.recreate_database(PG_SERVER, DB_NAME)
    os.environ["DATABASE_URL"] = f"{PG_SERVER}/{DB_NAME}"
    os.environ["REDIS_URL"] = REDIS_URL
    # Hundreds of requests a minute on one key: lift the 200/min rate limit, as the order bench does
    # (its Redis call is still made, and measured, on every request).
    os.environ["TRADEX_API_RATE_LIMIT_PER_MINUTE"] = "100000000"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradex.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _holdings(n: int):
    from accounts.services import account_create
    from marketdata import quote_cache
    from marketdata.models import Asset
    from marketdata.selectors import LAST_PRICE_KEY
    from portfolio.models import Position

    account, key, secret = account_create(username=f"bench{n}", cash=D(1_000_000), account_type="margin")
    assets = Asset.objects.bulk_create([Asset(symbol=f"B{n}X{i:04d}", name="bench", last_price=D(50), prev_close=D(49))
                                        for i in range(n)])
    Position.objects.bulk_create([Position(account=account, symbol=a.symbol, asset=a, avg_entry_price=D("45.5"),
                                           qty=D(10 if i % 7 else -10)) for i, a in enumerate(assets)])
    quote_cache.set_many({LAST_PRICE_KEY.format(a.symbol): f"{50 + i % 13}.25" for i, a in enumerate(assets)})
    return account, key.key_id, secret


def valuation(report=print) -> list[tuple]:
    import psycopg
    import redis
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from marketdata.selectors import LAST_PRICE_KEY

    rows = []
    r = redis.Redis.from_url(REDIS_URL)
    for n in SIZES:
        account, key_id, secret = _holdings(n)
        client = Client(HTTP_APCA_API_KEY_ID=key_id, HTTP_APCA_API_SECRET_KEY=secret)
        for path in ("/v2/positions", "/v2/account"):
            for _ in range(10):  # warm: imports, connection, serializer fields
                assert client.get(path).status_code == 200
            with CaptureQueriesContext(connection) as captured:
                client.get(path)
            statements = [q["sql"] for q in captured.captured_queries]
            api = []
            for _ in range(REQUESTS):
                t = time.perf_counter()
                response = client.get(path)
                api.append((time.perf_counter() - t) * 1000)
                assert response.status_code == 200
            # The ceiling: the request's own SQL on a raw connection + the one MGET of the prices.
            from marketdata import quote_cache

            keys = [quote_cache.PREFIX + LAST_PRICE_KEY.format(s) for s in
                    account.positions.values_list("symbol", flat=True)]
            floor = []
            with psycopg.connect(f"{PG_SERVER}/{DB_NAME}", autocommit=True) as conn:
                for _ in range(REQUESTS):
                    t = time.perf_counter()
                    for sql in statements:
                        conn.execute(sql).fetchall()
                    r.mget(keys)
                    floor.append((time.perf_counter() - t) * 1000)
            rows.append((n, path, len(statements), api, floor))
    report(f"Portfolio valuation through the API (in-process Django stack) vs its SQL + one MGET via psycopg/redis-py{SMOKE_TAG}")
    report(f"{'positions':>9} {'endpoint':<14} {'queries':>7} | {'API p50':>8} {'p99':>7} | "
           f"{'ceiling p50':>11} {'p99':>7} | {'ratio p50':>9}  (ms; target < 20 ms at 1,000)")
    for n, path, queries, api, floor in rows:
        report(f"{n:>9} {path:<14} {queries:>7} | {statistics.median(api):8.2f} {_pct(api, 99):7.2f} | "
               f"{statistics.median(floor):11.2f} {_pct(floor, 99):7.2f} | {statistics.median(api) / statistics.median(floor):8.1f}x")
    return rows


def _population(n_accounts: int, seed: int = 7):
    """Accounts holding 1-12 symbols drawn with Zipf-like weights (rank^-1)."""
    rng = random.Random(seed)
    symbols = [f"S{i:04d}" for i in range(SYMBOLS)]
    weights = [1 / (rank + 1) for rank in range(SYMBOLS)]
    prices = {s: D(rng.randint(1000, 50000)) / 100 for s in symbols}
    accounts = []
    for i in range(n_accounts):
        held = set(rng.choices(symbols, weights=weights, k=rng.randint(1, 12)))
        qty = {s: D(rng.choice([1, 5, 10, 25, 50, 100]) * (1 if rng.random() > 0.1 else -1)) for s in held}
        value = sum(abs(q) * prices[s] for s, q in qty.items())
        accounts.append((i, value * D("0.6"), qty))  # cash such that equity is well above 25 %
    return symbols, weights, prices, accounts


def monitor_throughput(report=print) -> dict:
    from portfolio.monitor import AccountState, PortfolioMonitor

    t0 = time.perf_counter()
    symbols, weights, prices, accounts = _population(MONITOR_ACCOUNTS)
    monitor = PortfolioMonitor(publish=lambda messages: None, liquidation_level="0.8", push_per_second=4)
    monitor.rates = {}
    monitor.prices = dict(prices)
    for i, cash, qty in accounts:
        monitor.account_set(AccountState(i, None, True, cash, dict(qty), {s: prices[s] for s in qty}))
    monitor.watched = set(range(0, MONITOR_ACCOUNTS, 100))  # 1 % of accounts have a client listening
    monitor.events.clear()
    setup_s = time.perf_counter() - t0
    holders = sum(len(h) for h in monitor.holders.values())
    rng = random.Random(11)
    # Feed batches: moved symbols drawn by the same popularity (active names trade most).
    batches = []
    current = dict(prices)
    for _ in range(400):
        moved = {}
        for s in set(rng.choices(symbols, weights=weights, k=BATCH)):
            current[s] = max(D("0.01"), current[s] + D(rng.randint(-5, 5)) / 100)
            moved[s] = current[s]
        batches.append(moved)

    sizes = [sum(len(monitor.holders.get(s, ())) for s in batch) for batch in batches]

    def run(fn) -> tuple[int, int, float, int]:
        updates = touched = done = 0
        elapsed = 0.0
        for batch, size in zip(batches, sizes):
            start = time.perf_counter()
            fn(batch)
            elapsed += time.perf_counter() - start
            updates, touched, done = updates + len(batch), touched + size, done + 1
            if elapsed > MONITOR_SECONDS:
                break
        return updates, touched, elapsed, done

    m_updates, m_touched, m_seconds, m_batches = run(monitor.on_prices)
    pushes = monitor.stats["pushes"]
    watched, monitor.watched = monitor.watched, set()  # the same, with no client listening
    q_updates, q_touched, q_seconds, q_batches = run(monitor.on_prices)
    monitor.watched = watched

    # Ceiling: the same holders, the same batches, only the multiply-add.
    value = {i: D(0) for i, _, _ in accounts}
    last = dict(prices)
    holder_lists = {s: [(st.id, q) for st, q, _ in h.values()] for s, h in monitor.holders.items()}

    def bare(batch):
        for s, p in batch.items():
            delta = p - last[s]
            last[s] = p
            for account_id, q in holder_lists.get(s, ()):
                value[account_id] += q * delta

    c_updates, c_touched, c_seconds, c_batches = run(bare)
    report(f"\nMargin monitor: {MONITOR_ACCOUNTS:,} margin accounts, {holders:,} positions over {SYMBOLS:,} symbols "
           f"(Zipf popularity), batches of up to {BATCH} moved symbols (setup {setup_s:.1f} s){SMOKE_TAG}")
    report(f"{'':22} {'price updates/s':>15} {'position revaluations/s':>24} {'batches':>8} {'ms/batch':>9}")
    report(f"{'monitor, 1 % watched':22} {m_updates / m_seconds:15,.0f} {m_touched / m_seconds:24,.0f} {m_batches:>8} "
           f"{m_seconds / m_batches * 1000:9.2f}")
    report(f"{'  nobody watching':22} {q_updates / q_seconds:15,.0f} {q_touched / q_seconds:24,.0f} {q_batches:>8} "
           f"{q_seconds / q_batches * 1000:9.2f}")
    report(f"{'ceiling: bare loop':22} {c_updates / c_seconds:15,.0f} {c_touched / c_seconds:24,.0f} {c_batches:>8} "
           f"{c_seconds / c_batches * 1000:9.2f}")
    report(f"monitor / ceiling: {(m_touched / m_seconds) / (c_touched / c_seconds):.1%}; "
           f"events queued: {monitor.stats['events']}, pushes (1 % of accounts watched, <= 4/s each): {pushes}")
    return {"monitor_updates_per_s": m_updates / m_seconds, "ceiling_updates_per_s": c_updates / c_seconds}


def run(report=print) -> None:
    _setup_django()
    valuation(report)
    monitor_throughput(report)


if __name__ == "__main__":
    run()
