"""Audit search bench: BENCH_AUDIT_N audit events (default 10,000,000) generated with COPY into a
fresh database, then the admin's search (GET /admin/compliance/auditevent/?q=…, the whole page:
session, the search query, the capped count, rendering) per filter, p50/p99, beside its ceiling
measured in the same run: the same audit SQL the page ran, replayed on a raw psycopg connection.

The events look like the order path's: per order an `order.placed` (the payload names the symbol)
and two fills, spread over BENCH_AUDIT_ACCOUNTS account chains (default 10,000) and two years in
time order, 1 % on the system chain by 20 staff actors. Hashes are placeholders (the search does
not read them). The search indexes (migration compliance 0003) are dropped for the COPY and
rebuilt after it, timed; the table and index sizes are printed.

Environment: BENCH_PG (server URL, default postgres://postgres@127.0.0.1:5432), BENCH_AUDIT_N,
BENCH_AUDIT_ACCOUNTS, BENCH_AUDIT_REQUESTS (page loads per filter, default 40); BENCH_AUDIT_REUSE=1
measures again on the database a previous run loaded (same N and accounts), without generating.
Run alone: .venv/bin/python bench/audit_search.py
"""
import io
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import support  # noqa: E402
from bench.support import SMOKE_TAG, knob  # noqa: E402

PG_SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "tradex_bench_audit"
N = int(knob("BENCH_AUDIT_N", "10000000", "30000"))
ACCOUNTS = int(knob("BENCH_AUDIT_ACCOUNTS", "10000", "100"))
REQUESTS = int(knob("BENCH_AUDIT_REQUESTS", "40", "5"))
SYMBOLS = [f"S{i:03d}" for i in range(500)]
START = datetime(2024, 12, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
CHUNK = 500_000
TARGET_MS = 1000

ENV = {**os.environ, "DATABASE_URL": f"{PG_SERVER}/{DB_NAME}", "PYTHONUNBUFFERED": "1"}
ENV.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")


def account_of(order: int, accounts: list[str]) -> str:
    return accounts[(order * 7919) % len(accounts)]


def chunks(accounts: list[str]):
    """The events as COPY text, CHUNK rows at a time: event i belongs to order i // 3."""
    seqs = {a: 0 for a in accounts}
    seqs[""] = 0
    step = SPAN / N
    for start in range(0, N, CHUNK):
        buf = io.StringIO()
        for i in range(start, min(N, start + CHUNK)):
            when = (START + step * i).isoformat()
            order, kind = divmod(i, 3)
            if i % 100 == 99:  # the system chain: staff edits
                chain, actor, action, etype, eid = "", f"admin:staff{(i // 100) % 20}", "asset.changed", "asset", SYMBOLS[i % 500]
                data = '{"changes": {"tradable": [true, false]}}'
            else:
                chain = account_of(order, accounts)
                actor, etype, eid = f"api:{chain[:8]}", "order", str(uuid.UUID(int=order + 1))
                if kind == 0:
                    action = "order.placed"
                    data = (f'{{"symbol": "{SYMBOLS[order % 500]}", "side": "buy", "qty": "10", '
                            f'"limit_price": "100.25", "client_order_id": "c{order}"}}')
                else:
                    action = "order.partially_filled" if kind == 1 else "order.filled"
                    data = f'{{"qty": "5", "price": "100.25", "exec_id": "E{i}", "venue": "SIMA"}}'
            seqs[chain] += 1
            digest = f"{i:064x}"
            buf.write(f"{i + 1}\t{chain}\t{seqs[chain]}\t{when}\t{actor}\t{action}\t{etype}\t{eid}\t{data}"
                      f"\t{digest}\t{digest}\n")
        yield buf.getvalue()


def generate(conn, accounts: list[str]) -> dict:
    """COPY the events with the search indexes dropped, then rebuild them (the definitions the
    migration created, read back from the catalog). Returns the timings."""
    t = {}
    with conn.cursor() as cur:
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'compliance_auditevent' "
                    "AND indexname NOT IN ('compliance_auditevent_pkey', 'audit_chain_seq_uniq')")
        indexes = cur.fetchall()
        for name, _ in indexes:
            cur.execute(f"DROP INDEX {name}")
        conn.commit()
        started = time.perf_counter()
        formatting = 0.0
        with cur.copy("COPY compliance_auditevent (id, chain, seq, occurred_at, actor, action, entity_type, entity_id,"
                      " data, prev_hash, hash) FROM STDIN") as copy:
            gen = chunks(accounts)
            while True:
                f0 = time.perf_counter()
                chunk = next(gen, None)
                formatting += time.perf_counter() - f0
                if chunk is None:
                    break
                copy.write(chunk)
        conn.commit()
        t["copy"] = time.perf_counter() - started - formatting
        t["format"] = formatting
        cur.execute("SELECT setval('compliance_auditevent_id_seq', %s)", [N])
        started = time.perf_counter()
        for _, definition in indexes:
            cur.execute(definition)
        conn.commit()
        t["indexes"] = time.perf_counter() - started
    conn.autocommit = True
    started = time.perf_counter()
    conn.execute("VACUUM ANALYZE compliance_auditevent")
    t["vacuum"] = time.perf_counter() - started
    conn.autocommit = False
    return t


def sizes(conn) -> list[tuple[str, int]]:
    rows = conn.execute("SELECT 'table', pg_table_size('compliance_auditevent') UNION ALL "
                        "SELECT indexname, pg_relation_size(indexname::regclass) FROM pg_indexes "
                        "WHERE tablename = 'compliance_auditevent' ORDER BY 1").fetchall()
    conn.commit()
    return rows


def searches(accounts: list[str]) -> dict[str, list[str]]:
    """Per filter, REQUESTS search boxes with varied values (a random order, account, …)."""
    rnd = random.Random(7)

    def day():
        d = START + timedelta(days=rnd.randrange(700))
        return d.date().isoformat()

    def week_after(d):
        return (datetime.fromisoformat(d) + timedelta(days=7)).date().isoformat()

    def order():
        return str(uuid.UUID(int=rnd.randrange(N // 3) + 1))

    return {
        "none (newest page)": [""] * REQUESTS,
        "account": [f"account:{rnd.choice(accounts)}" for _ in range(REQUESTS)],
        "symbol": [f"symbol:{rnd.choice(SYMBOLS)}" for _ in range(REQUESTS)],
        "order id": [f"order:{order()}" for _ in range(REQUESTS)],
        "actor (staff)": [f"actor:admin:staff{rnd.randrange(20)}" for _ in range(REQUESTS)],
        "event type": [f"action:{rnd.choice(['order.placed', 'order.filled', 'asset.changed'])}"
                       for _ in range(REQUESTS)],
        "time range (1 day)": [f"from:{d} to:{d}" for d in (day() for _ in range(REQUESTS))],
        "account + time range": [f"account:{rnd.choice(accounts)} from:{day()}" for _ in range(REQUESTS)],
        "symbol + event type": [f"symbol:{rnd.choice(SYMBOLS)} action:order.placed" for _ in range(REQUESTS)],
        "actor + time range": [f"actor:admin:staff{rnd.randrange(20)} from:{d} to:{week_after(d)}"
                               for d in (day() for _ in range(REQUESTS))],
    }


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def measure(accounts: list[str]) -> list[tuple]:
    os.environ.update({k: ENV[k] for k in ("DATABASE_URL", "REDIS_URL")})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradex.settings")
    import django  # noqa: PLC0415  (set up only here: after the bench database exists and is loaded)

    django.setup()
    from django.contrib.auth import get_user_model  # noqa: PLC0415  (needs django.setup())
    from django.db import connection  # noqa: PLC0415  (needs django.setup())
    from django.test import Client  # noqa: PLC0415  (needs django.setup())
    from django.test.utils import CaptureQueriesContext  # noqa: PLC0415  (needs django.setup())

    user = (get_user_model().objects.filter(username="bench-staff").first()
            or get_user_model().objects.create_superuser("bench-staff", "staff@example.invalid", "x"))
    client = Client()
    client.force_login(user)
    raw = psycopg.connect(f"{PG_SERVER}/{DB_NAME}", autocommit=True)
    results = []
    for label, boxes in searches(accounts).items():
        page_ms, sql_ms, shown = [], [], []
        client.get("/admin/compliance/auditevent/", {"q": boxes[0]})  # warm the code path once
        for box in boxes:
            with CaptureQueriesContext(connection) as queries:
                t = time.perf_counter()
                response = client.get("/admin/compliance/auditevent/", {"q": box})
                page_ms.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, (box, response.status_code)
            audit_sql = [q["sql"] for q in queries.captured_queries if "compliance_auditevent" in q["sql"]]
            t = time.perf_counter()
            for sql in audit_sql:
                rows = raw.execute(sql).fetchall()
                if sql.startswith("SELECT COUNT(*)"):  # the page's capped count: what it shows
                    shown.append(rows[0][0])
            sql_ms.append((time.perf_counter() - t) * 1000)
        results.append((label, pct(page_ms, 0.5), pct(page_ms, 0.99), pct(sql_ms, 0.5), pct(sql_ms, 0.99),
                        statistics.median(shown)))
    raw.close()
    return results


def main() -> None:
    t_start = time.perf_counter()
    accounts = [str(uuid.UUID(int=(1 << 100) + a)) for a in range(ACCOUNTS)]
    if os.environ.get("BENCH_AUDIT_REUSE") != "1":
        support.recreate_database(PG_SERVER, DB_NAME)
        support.manage(ENV, "migrate", "--noinput", "-v", "0")
        print(f"audit search bench: {N:,} events over {ACCOUNTS:,} chains; generating with COPY ...", flush=True)
        with psycopg.connect(f"{PG_SERVER}/{DB_NAME}") as conn:
            t = generate(conn, accounts)
        print(f"  COPY {t['copy']:.1f} s ({N / t['copy']:,.0f} rows/s; formatting {t['format']:.1f} s apart), "
              f"search indexes built in {t['indexes']:.1f} s, VACUUM ANALYZE {t['vacuum']:.1f} s", flush=True)
    with psycopg.connect(f"{PG_SERVER}/{DB_NAME}") as conn:
        table_sizes = sizes(conn)
    print("  sizes: " + ", ".join(f"{name} {size / 2**20:,.0f} MiB" for name, size in table_sizes), flush=True)
    results = measure(accounts)
    print()
    print(f"Admin audit search over {N:,} events, {REQUESTS} searches per filter, ms{SMOKE_TAG}")
    print(f"{'filter':24} {'page p50':>9} {'page p99':>9} | {'SQL p50':>8} {'SQL p99':>8} (raw psycopg, same SQL)"
          f" | {'rows shown':>10}")
    worst = 0.0
    for label, p50, p99, s50, s99, shown in results:
        worst = max(worst, p99)
        print(f"{label:24} {p50:9.1f} {p99:9.1f} | {s50:8.1f} {s99:8.1f} {'':22} | {shown:10,.0f}")
    print(f"worst page p99 {worst:.0f} ms: target < {TARGET_MS} ms "
          f"({'met' if worst < TARGET_MS else 'NOT met'}); 'rows shown' is capped at 10,001 (no full COUNT)")
    print(f"bench took {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
