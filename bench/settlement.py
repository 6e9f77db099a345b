"""Settlement bench: settle BENCH_SETTLE_N executions (default 200,000; the issue's figure is BENCH_SETTLE_N=1000000, about 7 minutes here with generation) with the real batch code
(`manage.py settle`, BENCH_SETTLE_WORKERS processes at once, SKIP LOCKED batches), beside two
ceilings measured in the same run on the same database: raw psycopg COPY into the obligation
table (rows/s) and pgbench's TPC-B-like durable commits (tx/s).

The executions, their fill journal entries and legs and their obligations are generated with
COPY straight into the tables (as the fill path would have left them, the account totals set
from them), so the bench measures settlement, not order entry. After the run it checks that
nothing is pending, that the batches settled exactly N obligations, and runs verify_ledger.

Environment: BENCH_PG (server URL, default postgres://postgres@127.0.0.1:5432), BENCH_SETTLE_N,
BENCH_SETTLE_ACCOUNTS (default 10,000), BENCH_SETTLE_BATCH (obligations per batch, default 2000),
BENCH_SETTLE_WORKERS (default 2), BENCH_PGBENCH_SECONDS (default 5).
Then: a monthly statement for each of the BENCH_SETTLE_ACCOUNTS accounts (10,000 by default), in
ms per document beside fpdf2 rendering the same page with no database.
Run alone: .venv/bin/python bench/settlement.py
"""
import io
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import support  # noqa: E402
from bench.support import SMOKE, SMOKE_TAG, knob  # noqa: E402
PG_SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "tradex_bench_settle"
N = int(knob("BENCH_SETTLE_N", "200000", "2000"))
ACCOUNTS = int(knob("BENCH_SETTLE_ACCOUNTS", "10000", "100"))
BATCH = int(knob("BENCH_SETTLE_BATCH", "2000", "200"))
WORKERS = int(os.environ.get("BENCH_SETTLE_WORKERS", "2"))
PGBENCH_SECONDS = int(knob("BENCH_PGBENCH_SECONDS", "5", "1"))
RENDERS = 20 if SMOKE else 200  # fpdf2-alone renderings for the statements ceiling
TRADE_DATE, SETTLE_DATE = "2025-10-08", "2025-10-09"
CHUNK = 100_000

ENV = {**os.environ, "DATABASE_URL": f"{PG_SERVER}/{DB_NAME}", "PYTHONUNBUFFERED": "1"}
ENV.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")


def manage(*args: str) -> str:
    return support.manage(ENV, *args)


def recreate_database() -> None:
    support.recreate_database(PG_SERVER, DB_NAME)


def setup_rows(conn) -> tuple[list[str], list[str]]:
    """ACCOUNTS users and accounts, one asset, one filled order per account (plain SQL)."""
    accounts = [str(uuid.uuid4()) for _ in range(ACCOUNTS)]
    orders = [str(uuid.uuid4()) for _ in range(ACCOUNTS)]
    asset = str(uuid.uuid4())
    with conn.cursor() as cur:
        support.copy_asset_and_accounts(cur, asset, accounts)
        with cur.copy("COPY orders_order (id, account_id, client_order_id, request_hash, asset_id, symbol, side, order_type,"
                      " time_in_force, order_class, qty, limit_price, extended_hours, status, filled_qty, reserved_cash,"
                      " reserved_qty, venue, venue_order_id, reject_reason, hold_reason, located_qty, created_at, updated_at)"
                      " FROM STDIN") as copy:
            copy.write("".join(f"{o}\t{a}\tb{i}\t-\t{asset}\tAAPL\tbuy\tlimit\tday\tsimple\t1000000\t101\tf\tfilled\t0\t0"
                               f"\t0\tSIMA\t\t\t\t0\t2025-10-08 14:00:00+00\t2025-10-08 14:00:00+00\n"
                               for i, (o, a) in enumerate(zip(orders, accounts))))
    return accounts, orders


def generate(conn, accounts, orders) -> dict:
    """N executions, their FILL entries (one per execution) and legs, and their obligations, by
    COPY. Returns seconds per table and the obligation COPY's rows/s (the raw ingest ceiling)."""
    timings = {}
    prices = ["100.00", "100.25", "99.75", "100.50"]

    def rows(kind):
        for start in range(0, N, CHUNK):
            buf = io.StringIO()
            for i in range(start, min(N, start + CHUNK)):
                a = i % ACCOUNTS
                side = "buy" if i % 3 else "sell"
                price = prices[i % 4]
                value = f"{int(price[:-3]) * 2 + int(price[-2:]) * 2 / 100:.2f}"  # qty 2
                signed = f"-{value}" if side == "buy" else value
                exec_id = uuid.UUID(int=i + 1)
                if kind == "execution":
                    buf.write(f"{exec_id}\t{orders[a]}\t{accounts[a]}\tSIMA\tE{i}\tAAPL\t{side}\t2\t{price}"
                              f"\t{TRADE_DATE} 15:00:00+00\t{TRADE_DATE} 15:00:00+00\n")
                elif kind == "entry":
                    buf.write(f"{i + 1}\tFILL\t{accounts[a]}\t{side} 2 AAPL @ {price}\t{exec_id}\t{TRADE_DATE} 15:00:00+00\n")
                elif kind == "leg":
                    street = value if side == "buy" else f"-{value}"
                    buf.write(f"{i + 1}\tcustomer_unsettled\t{accounts[a]}\t{signed}\n{i + 1}\tfirm_clearing\t\\N\t{street}\n")
                else:
                    buf.write(f"{i + 1}\t{exec_id}\t{accounts[a]}\tAAPL\t{side}\t2\t{price}\t{signed}\tXNYS\t{TRADE_DATE}"
                              f"\t{SETTLE_DATE}\tpending\t0\t0\t0\t{TRADE_DATE} 15:00:00+00\n")
            yield buf.getvalue()

    tables = {
        "execution": "COPY orders_execution (id, order_id, account_id, venue, exec_id, symbol, side, qty, price,"
                     " transacted_at, created_at) FROM STDIN",
        "entry": "COPY accounts_journalentry (id, kind, account_id, description, reference, created_at) FROM STDIN",
        "leg": "COPY accounts_journalleg (entry_id, book, account_id, amount) FROM STDIN",
        "obligation": "COPY settlement_obligation (id, execution_id, account_id, symbol, side, qty, price, amount, market,"
                      " trade_date, settle_date, status, unsettled_funded, unfunded, sold_early_qty, created_at)"
                      " FROM STDIN",
    }
    with conn.cursor() as cur:
        for kind, sql in tables.items():
            chunks = list(rows(kind))  # formatted first: the COPY timing is the database's
            t = time.perf_counter()
            with cur.copy(sql) as copy:
                for chunk in chunks:
                    copy.write(chunk)
            conn.commit()
            timings[kind] = time.perf_counter() - t
        cur.execute("SELECT setval('accounts_journalentry_id_seq', %s)", [N])
        cur.execute("SELECT setval('settlement_obligation_id_seq', %s)", [N])
        # Each account: enough deposited cash for its buys, and the unsettled total its fills left.
        cur.execute("INSERT INTO accounts_journalentry (kind, account_id, description, reference, created_at) "
                    "SELECT 'CSD', id, 'bench deposit', '', now() FROM accounts_account")
        cur.execute("INSERT INTO accounts_journalleg (entry_id, book, account_id, amount) "
                    "SELECT e.id, b.book, CASE WHEN b.book = 'customer_settled' THEN e.account_id END, b.sign * 1000000 "
                    "FROM accounts_journalentry e CROSS JOIN (VALUES ('customer_settled', 1), ('firm_bank', -1)) b(book, sign) "
                    "WHERE e.kind = 'CSD'")
        cur.execute("UPDATE accounts_account a SET settled_cash = 1000000, unsettled_cash = s.total "
                    "FROM (SELECT account_id, sum(amount) total FROM settlement_obligation GROUP BY account_id) s "
                    "WHERE a.id = s.account_id")
        conn.commit()
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE")
    timings["copy_rows_per_s"] = N / timings["obligation"]
    return timings


def pgbench_ceiling(workdir: Path) -> float:
    binary = shutil.which("pgbench") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))), None)
    if not binary:
        return float("nan")
    base = ["-h", "127.0.0.1", "-U", "postgres", DB_NAME]
    subprocess.run([binary, "-i", "-q", "-s", "2", *base], check=True, capture_output=True, cwd=workdir)
    run = subprocess.run([binary, "-n", "-c", str(WORKERS), "-j", str(WORKERS), "-T", str(PGBENCH_SECONDS), *base],
                         check=True, capture_output=True, text=True, cwd=workdir)
    match = re.search(r"tps = ([0-9.]+)", run.stdout)
    return float(match.group(1)) if match else float("nan")


def main() -> None:
    t_start = time.perf_counter()
    recreate_database()
    manage("migrate", "--noinput", "-v", "0")
    with psycopg.connect(f"{PG_SERVER}/{DB_NAME}") as conn:
        accounts, orders = setup_rows(conn)
        conn.commit()
        print(f"settlement bench: {N:,} executions over {ACCOUNTS:,} accounts; generating with COPY ...", flush=True)
        timings = generate(conn, accounts, orders)
    print(f"  generated in {sum(v for k, v in timings.items() if k != 'copy_rows_per_s'):.1f} s "
          f"(COPY: executions {timings['execution']:.1f} s, entries {timings['entry']:.1f} s, legs {timings['leg']:.1f} s,"
          f" obligations {timings['obligation']:.1f} s)", flush=True)

    t = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "manage.py", "settle", "--as-of", SETTLE_DATE, "--batch-size", str(BATCH)],
                              cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(WORKERS)]
    outputs = [p.communicate()[0] for p in procs]
    seconds = time.perf_counter() - t
    if any(p.returncode for p in procs):
        sys.exit("settle failed:\n" + "\n".join(outputs))

    with psycopg.connect(f"{PG_SERVER}/{DB_NAME}") as conn:
        pending = conn.execute("SELECT count(*) FROM settlement_obligation WHERE status = 'pending'").fetchone()[0]
        settled, batches = conn.execute("SELECT coalesce(sum(obligations), 0), count(*) FROM settlement_settlementbatch"
                                        ).fetchone()
    verify = manage("verify_ledger").strip()
    tps = pgbench_ceiling(ROOT / "bench")

    rate = N / seconds
    print()
    print(f"Settlement of {N:,} executions ({WORKERS} workers, {BATCH} per batch, one transaction per batch){SMOKE_TAG}")
    print(f"{'':28} {'value':>14} | {'ceiling (same run)':>28} | {'ratio':>7}")
    print(f"{'obligations settled / s':28} {rate:14,.0f} | {timings['copy_rows_per_s']:17,.0f} COPY rows/s | "
          f"{rate / timings['copy_rows_per_s']:7.1%}")
    print(f"{'batches committed / s':28} {batches / seconds:14,.1f} | {tps:17,.0f} pgbench tx/s | "
          f"{batches / seconds / tps if tps else float('nan'):7.1%}")
    print(f"{'wall time':28} {seconds:13.1f}s | target < 300 s for 1,000,000")
    print(f"check: {settled:,} settled in {batches} batches, {pending} pending; {verify}")
    if pending or settled != N:
        sys.exit("settlement bench: not everything settled exactly once")
    statements_bench()
    print(f"bench took {time.perf_counter() - t_start:.0f} s")


def statements_bench() -> None:
    """Monthly statements for every bench account (October 2025: N / ACCOUNTS trades each), with
    `manage.py generate_documents statements`, beside the same PDF rendered with no database."""
    sys.path.insert(0, str(ROOT))
    os.environ.update({k: v for k, v in ENV.items() if k in ("DATABASE_URL", "REDIS_URL")})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradex.settings")
    import django

    django.setup()
    from workflows.documents import _pdf

    lines = max(1, N // ACCOUNTS)
    rows = [["2025-10-08", "FILL", "buy 2 AAPL @ 100.25", "-200.50"]] * lines
    columns = [("Date", 25), ("Type", 18), ("Description", 110), ("Amount", 30)]
    t = time.perf_counter()
    for _ in range(RENDERS):
        _pdf("Account statement 2025-10", ["TradeX", "Account B000000000001 - bench", "Period", "Opening", "Positions"],
             columns, rows, ["footer"])
    render_ms = (time.perf_counter() - t) / RENDERS * 1000
    t = time.perf_counter()
    out = manage("generate_documents", "statements", "--month", "2025-10").strip()
    seconds = time.perf_counter() - t
    with psycopg.connect(f"{PG_SERVER}/{DB_NAME}") as conn:
        made, size = conn.execute("SELECT count(*), coalesce(avg(length(content)), 0) FROM settlement_document "
                                  "WHERE kind = 'account_statement' AND period = '2025-10'").fetchone()
    print()
    print(f"Monthly statements ({lines} activity lines each){SMOKE_TAG}: {out}")
    print(f"{'':28} {'value':>14} | {'ceiling (same run)':>28} | {'ratio':>7}")
    print(f"{'ms per statement':28} {seconds / max(made, 1) * 1000:14.2f} | {render_ms:14.2f} ms fpdf2 alone | "
          f"{render_ms / (seconds / max(made, 1) * 1000):7.1%}")
    print(f"{'statements':28} {made:14,} | {seconds:13.1f} s total, {size / 1024:.1f} KiB each")


if __name__ == "__main__":
    main()
