"""CAT report bench: the daily CAT file of a trading day with BENCH_CAT_EVENTS order events in the
audit trail (default 100,000), written by `manage.py cat_report` (the scheduled job's code, the
completeness check included), beside a ceiling measured in the same run: PostgreSQL's COPY of the
same day's audit rows to nowhere (what reading the trail alone costs).

The day is generated with COPY straight into the tables as the order path leaves them: per order
an `order.placed` at a venue, then a partial and a full fill (with their executions), or a
replace (`order.replace_requested`, the replacement's `order.placed`, its fill), or a cancel.
The audit rows' hashes are not computed (the report does not read them).

Environment: BENCH_PG (server URL, default postgres://postgres@127.0.0.1:5432), BENCH_CAT_EVENTS,
BENCH_CAT_ACCOUNTS (default 1,000). Run alone: .venv/bin/python bench/cat_report.py
"""
import io
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import support  # noqa: E402
from bench.support import SMOKE_TAG, knob  # noqa: E402

PG_SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "tradex_bench_cat"
EVENTS = int(knob("BENCH_CAT_EVENTS", "100000", "2000"))
ACCOUNTS = int(knob("BENCH_CAT_ACCOUNTS", "1000", "20"))
DAY = "2025-10-08"  # a Wednesday, a trading day; its CAT window ends 16:15 New York (20:15 UTC)
VENUES = ("SIMA", "SIMB", "SIMC")
VAR_DIR = Path(tempfile.mkdtemp(prefix="tradex-bench-cat-"))
ENV = {**os.environ, "DATABASE_URL": f"{PG_SERVER}/{DB_NAME}", "PYTHONUNBUFFERED": "1", "TRADEX_VAR_DIR": str(VAR_DIR)}
ENV.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")


def esc(data: dict) -> str:
    return json.dumps(data).replace("\\", "\\\\")


def generate(conn) -> int:
    accounts = [str(uuid.uuid4()) for _ in range(ACCOUNTS)]
    asset = str(uuid.uuid4())
    orders, executions, events = io.StringIO(), io.StringIO(), io.StringIO()
    seqs = dict.fromkeys(accounts, 0)
    n_events = 0
    micro = 0

    def tick() -> int:
        nonlocal micro
        micro += 1000  # one event per millisecond from 13:30 UTC: 100,000 events end before 16:15 New York
        return micro

    def stamp(base_micro):
        s, us = divmod(base_micro, 1_000_000)
        return f"{DAY} {13 + (30 * 60 + s) // 3600:02d}:{(30 * 60 + s) % 3600 // 60:02d}:{s % 60:02d}.{us:06d}+00"

    def event(account, action, order_id, data):
        nonlocal n_events
        seqs[account] += 1
        m = tick()
        events.write(f"{account}\t{seqs[account]}\t{stamp(m)}\tbench\t{action}\torder\t{order_id}\t{esc(data)}"
                     f"\t{'0' * 64}\t{'0' * 64}\tsystem, unsynchronised\t\\N\n")
        n_events += 1
        return m

    def order(account, i, qty, replaces=None):
        oid = str(uuid.uuid4())
        venue = VENUES[i % len(VENUES)]
        orders.write(f"{oid}\t{account}\t{oid}\t-\t{asset}\tAAPL\tbuy\tlimit\tday\tsimple\t{qty}\t100\tf\tfilled\t0\t0"
                     f"\t0\t{venue}\t\t\t\t0\t{DAY} 13:30:00+00\t{DAY} 13:30:00+00\t{DAY} 13:30:00+00\n")
        data = {"symbol": "AAPL", "side": "buy", "type": "limit", "time_in_force": "day", "qty": str(qty),
                "limit_price": "100", "venue": venue}
        if replaces:
            data = {"replaces": replaces, "qty": str(qty), "limit_price": "100"}
        event(account, "order.placed", oid, data)
        return oid, venue

    def fill(account, oid, venue, qty, action, k):
        xid = str(uuid.uuid4())
        m = event(account, action, oid, {"venue": venue, "exec_id": f"E{k}", "execution_id": xid, "qty": str(qty),
                                         "price": "100"})
        executions.write(f"{xid}\t{oid}\t{account}\t{venue}\tE{k}\tAAPL\tbuy\t{qty}\t100\t{stamp(m)}\t{stamp(m)}\n")

    i = k = 0
    while n_events < EVENTS:
        account = accounts[i % ACCOUNTS]
        oid, venue = order(account, i, 10)
        if i % 5 == 0:
            event(account, "order.canceled", oid, {"status": "canceled"})
        elif i % 5 == 1:
            event(account, "order.replace_requested", oid, {"replacement_id": "x"})
            new, _ = order(account, i, 12, replaces=oid)
            k += 1
            fill(account, new, venue, 12, "order.filled", k)
        else:
            k += 1
            fill(account, oid, venue, 4, "order.partially_filled", k)
            k += 1
            fill(account, oid, venue, 6, "order.filled", k)
        i += 1
    with conn.cursor() as cur:
        support.copy_asset_and_accounts(cur, asset, accounts)
        with cur.copy("COPY orders_order (id, account_id, client_order_id, request_hash, asset_id, symbol, side, order_type,"
                      " time_in_force, order_class, qty, limit_price, extended_hours, status, filled_qty, reserved_cash,"
                      " reserved_qty, venue, venue_order_id, reject_reason, hold_reason, located_qty, submitted_at,"
                      " created_at, updated_at) FROM STDIN") as copy:
            copy.write(orders.getvalue())
        with cur.copy("COPY orders_execution (id, order_id, account_id, venue, exec_id, symbol, side, qty, price,"
                      " transacted_at, created_at) FROM STDIN") as copy:
            copy.write(executions.getvalue())
        with cur.copy("COPY compliance_auditevent (chain, seq, occurred_at, actor, action, entity_type, entity_id, data,"
                      " prev_hash, hash, clock_source, clock_offset_ns) FROM STDIN") as copy:
            copy.write(events.getvalue())
        cur.execute("ANALYZE")
    return n_events


def main() -> None:
    support.recreate_database(PG_SERVER, DB_NAME)
    support.manage(ENV, "migrate", "-v0")
    with psycopg.connect(f"{PG_SERVER}/{DB_NAME}", autocommit=True) as conn:
        started = time.perf_counter()
        n = generate(conn)
        gen_s = time.perf_counter() - started
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(
                "COPY (SELECT * FROM compliance_auditevent WHERE occurred_at > '2025-10-07 20:15+00' "
                "AND occurred_at <= '2025-10-08 20:15+00' ORDER BY occurred_at, id) TO STDOUT") as copy:
            read_bytes = sum(len(block) for block in copy)
        ceiling_s = time.perf_counter() - started
    started = time.perf_counter()
    out = support.manage(ENV, "cat_report", "--date", DAY)
    took = time.perf_counter() - started
    manifest = json.loads((VAR_DIR / "cat" / DAY.replace("-", "") / "manifest.json").read_text())
    assert manifest["completeness"]["complete"], out
    print(f"CAT report: one trading day, {n:,} order events in the audit trail{SMOKE_TAG}")
    print(f"  generated by COPY in {gen_s:.1f} s")
    print(f"  manage.py cat_report (records + file + completeness check, process start included): {took:.2f} s, "
          f"{manifest['rows']:,} records ({n / took:,.0f} events/s)")
    print(f"  file {manifest['bytes'] / 1e6:.1f} MB ({manifest['bytes'] / max(manifest['rows'], 1):.0f} B/record), "
          f"by type {manifest['by_type']}, complete: {manifest['completeness']['complete']}")
    print(f"  ceiling: COPY of the day's audit rows to nowhere {ceiling_s:.2f} s ({read_bytes / 1e6:.1f} MB)")


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(VAR_DIR, ignore_errors=True)  # the 62 MB file of the full run
