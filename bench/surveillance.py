"""Surveillance bench: the incremental scan (surveillance.services.scan, every rule on) over one
generated trading day of BENCH_SURV_EVENTS order events and executions (default 200,000), in
events per second, beside a ceiling measured in the same run on the same database: psycopg
running the raw SELECTs of the rows the scan reads (the order events past the cursor, then the
day's orders and executions of the symbols they touch), with no rule and no Python objects.

The day is written by COPY straight into the orders tables as the order path would have left
them: BENCH_SURV_ACCOUNTS accounts (default 2,000) trading BENCH_SURV_SYMBOLS symbols (default
50); each order has its pending_new event and then either a fill (an execution and its fill event)
or a cancel (its canceled event), so an order is about 2.6 events. Events are counted as order
events (the cursor's rows) plus executions.

Environment: BENCH_PG (server URL), BENCH_SURV_EVENTS, BENCH_SURV_ACCOUNTS, BENCH_SURV_SYMBOLS,
BENCH_SURV_BATCH (order events per scan transaction, default the service's 100,000).
Run alone: .venv/bin/python bench/surveillance.py (own database tradex_bench_surv, dropped and
recreated). BENCH_SMOKE=1: a tiny day, figures not measurements.
"""
import io
import json
import os
import random
import sys
import time
import uuid
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import support  # noqa: E402
from bench.support import SMOKE_TAG, knob  # noqa: E402

PG_SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "tradex_bench_surv"
EVENTS = int(knob("BENCH_SURV_EVENTS", "200000", "3000"))
ACCOUNTS = int(knob("BENCH_SURV_ACCOUNTS", "2000", "50"))
SYMBOLS = int(knob("BENCH_SURV_SYMBOLS", "50", "5"))
BATCH = int(os.environ.get("BENCH_SURV_BATCH", "100000"))
INCREMENT = int(knob("BENCH_SURV_INCREMENT", "1000", "50"))  # orders written after the day
DAY = "2025-10-08"  # a Wednesday session, 13:30-20:00 UTC
OPEN_S, SESSION_S = 13.5 * 3600, 6.5 * 3600


def _setup_django() -> None:
    support.recreate_database(PG_SERVER, DB_NAME)
    os.environ["DATABASE_URL"] = f"{PG_SERVER}/{DB_NAME}"
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradex.settings")
    import django  # the bench sets the database up before Django reads its settings

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _ts(seconds: float) -> str:
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{DAY} {int(h):02d}:{int(m):02d}:{s:09.6f}+00"


def generate(conn) -> dict:
    """The day, by COPY. Returns the row counts."""
    rnd = random.Random(7)
    accounts = [str(uuid.uuid4()) for _ in range(ACCOUNTS)]
    symbols = [(str(uuid.uuid4()), f"S{i:03d}") for i in range(SYMBOLS)]
    orders_n = max(1, int(EVENTS / 2.6))
    users, accts, assets = io.StringIO(), io.StringIO(), io.StringIO()
    for i, a in enumerate(accounts):
        users.write(f"{i + 1}\t!\tf\tbench{i}\t\t\t\tf\tt\t2025-10-01 00:00:00+00\n")
        accts.write(f"{a}\tB{i:012d}\t{i + 1}\tmargin\tACTIVE\tapproved\t0\t0\t0\tUSD\t2025-10-01 00:00:00+00\n")
    for asset_id, sym in symbols:
        assets.write(f"{asset_id}\t{sym}\t{sym}\tNASDAQ\tus_equity\tactive\tt\tt\tt\tt\tt\t100\t100\n")
    orders, execs, updates = io.StringIO(), io.StringIO(), io.StringIO()
    seq = [0] * ACCOUNTS
    counts = {"orders": orders_n, "executions": 0, "order_events": 0}
    for i in range(orders_n):
        a = rnd.randrange(ACCOUNTS)
        asset_id, sym = symbols[rnd.randrange(SYMBOLS)]
        oid = str(uuid.UUID(int=i + 1))
        side = "buy" if rnd.random() < 0.5 else "sell"
        t = OPEN_S + SESSION_S * i / orders_n
        price = f"{100 + rnd.uniform(-1, 1):.2f}"
        filled = rnd.random() < 0.6
        end = t + rnd.uniform(0.5, 30)
        status, filled_qty, canceled = ("filled", 10, "\\N") if filled else ("canceled", 0, _ts(end))
        orders.write(f"{oid}\t{accounts[a]}\tb{i}\t-\t{asset_id}\t{sym}\t{side}\tlimit\tday\tsimple\t10\t{price}\tf"
                     f"\t{status}\t{filled_qty}\t0\t0\tSIMA\t\t\t\t0\t{_ts(t)}\t{_ts(end)}\t{canceled}\n")
        for event, at in (("pending_new", t), ("fill" if filled else "canceled", end)):
            seq[a] += 1
            payload = json.dumps({"event": event, "order": {"id": oid, "symbol": sym}})
            updates.write(f"{accounts[a]}\t{seq[a]}\t{event}\t{payload}\t{_ts(at)}\n")
            counts["order_events"] += 1
        if filled:
            execs.write(f"{uuid.uuid4()}\t{oid}\t{accounts[a]}\tSIMA\tE{i}\t{sym}\t{side}\t10\t{price}\t{_ts(end)}"
                        f"\t{_ts(end)}\n")
            counts["executions"] += 1
    copies = [
        ("COPY accounts_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active,"
         " date_joined) FROM STDIN", users),
        ("COPY accounts_account (id, account_number, user_id, account_type, status, kyc_status, settled_cash,"
         " unsettled_cash, reserved_cash, currency, created_at) FROM STDIN", accts),
        ("COPY marketdata_asset (id, symbol, name, exchange, asset_class, status, tradable, marginable, shortable,"
         " easy_to_borrow, fractionable, last_price, prev_close) FROM STDIN", assets),
        ("COPY orders_order (id, account_id, client_order_id, request_hash, asset_id, symbol, side, order_type,"
         " time_in_force, order_class, qty, limit_price, extended_hours, status, filled_qty, reserved_cash,"
         " reserved_qty, venue, venue_order_id, reject_reason, hold_reason, located_qty, created_at, updated_at,"
         " canceled_at) FROM STDIN", orders),
        ("COPY orders_execution (id, order_id, account_id, venue, exec_id, symbol, side, qty, price, transacted_at,"
         " created_at) FROM STDIN", execs),
        ("COPY orders_tradeupdate (account_id, seq, event, payload, created_at) FROM STDIN", updates),
    ]
    with conn.cursor() as cur:
        for sql, buf in copies:
            with cur.copy(sql) as copy:
                copy.write(buf.getvalue())
        cur.execute("ANALYZE")
    conn.commit()
    return counts


def more_events(conn, n: int) -> int:
    """`n` more orders late in the day, placed and cancelled (2 events each, every symbol touched):
    what a scan a minute after a busy day finds. Returns the order events written."""
    with conn.cursor() as cur:
        cur.execute("SELECT o.account_id, o.asset_id, o.symbol, (SELECT MAX(seq) FROM orders_tradeupdate t"
                    " WHERE t.account_id = o.account_id) FROM orders_order o ORDER BY o.created_at DESC LIMIT %s", [n])
        rows = cur.fetchall()
        seqs: dict = {}
        orders, updates = io.StringIO(), io.StringIO()
        for i, (account, asset, sym, seq) in enumerate(rows):
            oid, t = str(uuid.uuid4()), OPEN_S + SESSION_S - 60 + i * 50 / n
            orders.write(f"{oid}\t{account}\tm{i}\t-\t{asset}\t{sym}\tbuy\tlimit\tday\tsimple\t10\t99\tf\tcanceled\t0"
                         f"\t0\t0\tSIMA\t\t\t\t0\t{_ts(t)}\t{_ts(t + 1)}\t{_ts(t + 1)}\n")
            for event, at in (("pending_new", t), ("canceled", t + 1)):
                seqs[account] = seqs.get(account, seq) + 1
                payload = json.dumps({"event": event, "order": {"id": oid, "symbol": sym}})
                updates.write(f"{account}\t{seqs[account]}\t{event}\t{payload}\t{_ts(at)}\n")
        with cur.copy("COPY orders_order (id, account_id, client_order_id, request_hash, asset_id, symbol, side,"
                      " order_type, time_in_force, order_class, qty, limit_price, extended_hours, status, filled_qty,"
                      " reserved_cash, reserved_qty, venue, venue_order_id, reject_reason, hold_reason, located_qty,"
                      " created_at, updated_at, canceled_at) FROM STDIN") as copy:
            copy.write(orders.getvalue())
        with cur.copy("COPY orders_tradeupdate (account_id, seq, event, payload, created_at) FROM STDIN") as copy:
            copy.write(updates.getvalue())
    conn.commit()
    return 2 * len(rows)


CEILING_SQL = [
    "SELECT id, created_at, event, payload->'order'->>'id', payload->'order'->>'symbol' FROM orders_tradeupdate"
    " WHERE id > 0 ORDER BY id",
    "SELECT e.id, e.order_id, e.account_id, a.user_id, e.symbol, e.side, e.qty, e.price, e.transacted_at"
    " FROM orders_execution e JOIN accounts_account a ON a.id = e.account_id"
    " WHERE e.transacted_at >= %(start)s AND e.transacted_at < %(end)s",
    "SELECT o.id, o.account_id, a.user_id, o.symbol, o.side, o.qty, o.limit_price, o.order_type, o.created_at,"
    " o.canceled_at, o.filled_qty FROM orders_order o JOIN accounts_account a ON a.id = o.account_id"
    " WHERE (o.created_at >= %(start)s AND o.created_at < %(end)s) OR (o.canceled_at >= %(start)s"
    " AND o.canceled_at < %(end)s)",
]


def ceiling(conn) -> float:
    """Seconds for psycopg to fetch what one scan reads (the best of three)."""
    from surveillance.selectors import day_bounds  # noqa: PLC0415  (Django is set up by then)

    start, end = day_bounds(date.fromisoformat(DAY))
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        with conn.cursor() as cur:
            for sql in CEILING_SQL:
                cur.execute(sql, {"start": start, "end": end})
                cur.fetchall()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    _setup_django()
    # After django.setup(): the app modules need the settings.
    import psycopg

    from surveillance.models import Alert
    from surveillance.selectors import session_close
    from surveillance.services import scan

    with psycopg.connect(f"{PG_SERVER}/{DB_NAME}") as conn:
        t = time.perf_counter()
        counts = generate(conn)
        generated = time.perf_counter() - t
        raw = ceiling(conn)
    events = counts["order_events"] + counts["executions"]
    session_close(date.fromisoformat(DAY))  # the calendar, read once per process (a worker keeps it)
    result = scan(lag_seconds=0, batch=BATCH)
    assert result["events"] == counts["order_events"], result
    again = scan(lag_seconds=0, batch=BATCH)
    assert again["events"] == 0
    with psycopg.connect(f"{PG_SERVER}/{DB_NAME}") as conn:
        written = more_events(conn, INCREMENT)
    later = scan(lag_seconds=0, batch=BATCH)
    assert later["events"] == written, later
    print(f"\nSurveillance scan over one generated day{SMOKE_TAG}: {counts['orders']:,} orders, "
          f"{counts['order_events']:,} order events, {counts['executions']:,} executions, {ACCOUNTS:,} accounts, "
          f"{SYMBOLS} symbols (generated by COPY in {generated:.1f} s)")
    print(f"  scan (6 rules, batches of {BATCH:,} events): {result['seconds']:.2f} s = "
          f"{events / result['seconds']:,.0f} events/s; {result['batches']} batches, {result['keys']} (day, symbol) "
          f"evaluations, {Alert.objects.count()} alerts")
    print(f"  ceiling (psycopg, the raw SELECTs of the same rows, once): {raw:.2f} s = {events / raw:,.0f} events/s")
    print(f"  a rescan with nothing new: {again['seconds'] * 1000:.1f} ms")
    print(f"  then {written:,} new order events touching {later['keys']} (day, symbol) pairs: {later['seconds']:.2f} s"
          f" (the touched pairs' day is re-read)")


if __name__ == "__main__":
    main()
