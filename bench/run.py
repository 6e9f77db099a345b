"""`make bench`: order-ack latency over REST, beside pgbench running the same SQL as its ceiling.

Production-like: daphne workers (as `make run` starts them) on a fresh PostgreSQL database
(tradex_bench) with Redis, BENCH_ACCOUNTS funded accounts, limit buys of 1 share with unique
client_order_ids. No venue runs, so every order stays
pending_new (the venue sessions are marked up, no bridge runs); what is measured is the whole acknowledgement path (HTTP, auth, parsing, risk checks,
the durable commit) that the "order ack" target is about. The ceiling is pgbench replaying
the same statements against the same tables on the same machine in the same run, so the ratio
means something on a noisy machine.

Each REST level stops at BENCH_ORDERS orders or BENCH_LEVEL_SECONDS, whichever comes first, so
the whole bench stays within about two minutes however slow the server is.

Environment: BENCH_PG (server URL, default postgres://postgres@127.0.0.1:5432), BENCH_REDIS_URL,
BENCH_ORDERS, BENCH_LEVEL_SECONDS, BENCH_PACED_RATE, BENCH_PACED_SECONDS, BENCH_PGBENCH_SECONDS,
BENCH_ACCOUNTS, BENCH_WEB_WORKERS; BENCH_PART_TIMEOUT (seconds before a hung part is killed).

After the ack bench, every other bench/*.py runs in its own process; a part that fails prints
`bench: <part> FAILED (exit N)` and the tail of its output, the run goes on, and the exit status
is non-zero if any part failed. BENCH_SMOKE=1 (CI) runs every part with tiny defaults
(bench/support.py); its figures are marked "(smoke)" and are not measurements.
"""
import collections
import http.client
import itertools
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import support  # noqa: E402
from bench.support import SMOKE, SMOKE_TAG, free_port, knob  # noqa: E402
from orders.state import OPEN_STATUSES  # noqa: E402  (plain module: no Django settings needed)

PG_SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "tradex_bench"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
ORDERS_PER_LEVEL = int(knob("BENCH_ORDERS", "2000", "300"))
LEVEL_SECONDS = float(knob("BENCH_LEVEL_SECONDS", "15", "2"))
LEVELS = (1, 8, 32)
PACED_RATE = int(knob("BENCH_PACED_RATE", "500", "50"))
PACED_SECONDS = int(knob("BENCH_PACED_SECONDS", "10", "2"))
PGBENCH_SECONDS = int(knob("BENCH_PGBENCH_SECONDS", "5", "1"))
# Orders spread over this many accounts (client i trades for account i mod N): one account's row
# lock serialises its orders by design, so a single-account bench measures that lock, not the
# system. The pgbench ceiling spreads over as many accounts.
ACCOUNTS = int(knob("BENCH_ACCOUNTS", "32", "8"))
WEB_WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", str(os.cpu_count() or 1)))
WARMUP_ORDERS = 50
BIN = Path(sys.executable).parent

ENV = {
    **os.environ,
    "DATABASE_URL": f"{PG_SERVER}/{DB_NAME}",
    "REDIS_URL": REDIS_URL,
    # Every bench order stays open (no venue): lift the per-symbol open-order cap out of the way.
    "TRADEX_MAX_OPEN_ORDERS_PER_SYMBOL": "100000000",
    "TRADEX_MARKET_CLOCK": "always_open",  # the simulated market trades at any hour
    # Hundreds of orders a second per key: lift the 200/min rate limit (its Redis call is still
    # made, and measured, on every request).
    "TRADEX_API_RATE_LIMIT_PER_MINUTE": "100000000",
    "PYTHONUNBUFFERED": "1",
}


def manage(*args: str) -> str:
    return support.manage(ENV, *args)


def recreate_database() -> None:
    support.recreate_database(PG_SERVER, DB_NAME)


# ---------------------------------------------------------------- REST clients


@dataclass
class Result:
    latencies_ms: list[float]
    seconds: float
    errors: int
    first_error: str = ""

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        values = sorted(self.latencies_ms)
        return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else float("nan")


class OrderClient:
    """One keep-alive HTTP connection placing orders (http.client: the least client-side overhead)."""

    _ids = itertools.count()

    def __init__(self, port: int, key: dict, symbols: list[tuple[str, str]]):
        """`key`: the account's key_id and secret_key, as create_account prints them."""
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"APCA-API-KEY-ID": key["key_id"], "APCA-API-SECRET-KEY": key["secret_key"],
                        "Content-Type": "application/json"}
        self.symbols = symbols

    def place(self) -> tuple[int, bytes]:
        n = next(self._ids)  # itertools.count is atomic under the GIL
        symbol, price = self.symbols[n % len(self.symbols)]
        body = json.dumps({"symbol": symbol, "side": "buy", "type": "limit", "qty": "1", "limit_price": price,
                           "time_in_force": "day", "client_order_id": f"bench-{n}"})
        self.conn.request("POST", "/v2/orders", body, self.headers)
        response = self.conn.getresponse()
        return response.status, response.read()


def run_threads(workers: int, task) -> Result:
    """Run task(worker_index, record) in `workers` threads; record(latency_ms, status, body)."""
    latencies, errors, first_error = [], [0], []
    lock = threading.Lock()

    def record(latency_ms: float, status: int, body: bytes) -> None:
        with lock:
            if status == 200:
                latencies.append(latency_ms)
            else:
                errors[0] += 1
                if not first_error:
                    first_error.append(f"{status} {body[:300]!r}")

    threads = [threading.Thread(target=task, args=(i, record)) for i in range(workers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Result(latencies, time.perf_counter() - start, errors[0], first_error[0] if first_error else "")


def closed_loop(port, keys, symbols, *, clients: int, orders: int, seconds: float = LEVEL_SECONDS) -> Result:
    """`clients` connections, each sending its next order as soon as the last is acknowledged,
    until `orders` have been sent or `seconds` have passed."""
    budget = itertools.count()
    end = time.perf_counter() + seconds

    def task(i, record):
        client = OrderClient(port, keys[i % len(keys)], symbols)
        while next(budget) < orders and time.perf_counter() < end:
            t0 = time.perf_counter()
            status, body = client.place()
            record((time.perf_counter() - t0) * 1000, status, body)

    return run_threads(clients, task)


def paced(port, keys, symbols, *, rate: int, seconds: int, workers: int = 32) -> Result:
    """Open loop: order i is due at start + i/rate. Latency counts from when it was due, so a
    server that falls behind shows it (no coordinated omission). Orders not sent by the end of
    the window are not sent at all: the achieved rate then falls short of the target."""
    total = rate * seconds
    slots = itertools.count()
    start = time.perf_counter() + 0.05
    end = start + seconds

    def task(w, record):
        client = OrderClient(port, keys[w % len(keys)], symbols)
        while (i := next(slots)) < total and time.perf_counter() < end:
            due = start + i / rate
            if (delay := due - time.perf_counter()) > 0:
                time.sleep(delay)  # pacing the sender, not waiting for an event
            status, body = client.place()
            record((time.perf_counter() - due) * 1000, status, body)

    result = run_threads(workers, task)
    result.seconds = max(result.seconds - 0.05, seconds)
    return result


# ---------------------------------------------------------------- pgbench ceiling

PGBENCH_SCRIPT = """
\\set k random(0, {nassets} - 1)
\\set a random(0, {naccounts} - 1)
\\set r random(1, 4611686018427387903)
SELECT account_id AS acct FROM accounts_apikey WHERE label = 'pgbench' ORDER BY account_id OFFSET :a LIMIT 1 \\gset
SELECT id AS asset_id, symbol, last_price FROM marketdata_asset ORDER BY symbol OFFSET :k LIMIT 1 \\gset
SELECT symbol FROM portfolio_position WHERE account_id = ':acct' AND qty <> 0;
BEGIN;
SELECT id FROM accounts_account WHERE id = ':acct' FOR UPDATE;
SELECT a.id, a.settled_cash, a.unsettled_cash, a.reserved_cash, a.status, a.account_type, l.id,
  (SELECT seq FROM compliance_auditevent WHERE chain = ':acct' ORDER BY seq DESC LIMIT 1) AS last_seq,
  (SELECT hash FROM compliance_auditevent WHERE chain = ':acct' ORDER BY seq DESC LIMIT 1) AS last_hash,
  COALESCE((SELECT count(*) FROM orders_order WHERE account_id = a.id AND symbol = ':symbol' AND status IN ({open_statuses}) GROUP BY account_id), 0),
  EXISTS(SELECT 1 FROM risk_tradinghalt WHERE lifted_at IS NULL AND symbol = ':symbol'),
  EXISTS(SELECT 1 FROM risk_tradinghalt WHERE lifted_at IS NULL AND symbol = ''),
  (SELECT id FROM orders_order WHERE account_id = a.id AND client_order_id = 'pgb-:client_id-:r' LIMIT 1)
  FROM accounts_account a LEFT JOIN risk_risklimits l ON l.account_id = a.id WHERE a.id = ':acct' \\gset
SELECT id, symbol, qty, avg_entry_price, held_qty FROM portfolio_position WHERE account_id = ':acct' ORDER BY symbol FOR UPDATE;
INSERT INTO orders_order (id, account_id, client_order_id, request_hash, asset_id, symbol, side, order_type, time_in_force, order_class, qty, limit_price, extended_hours, status, filled_qty, reserved_cash, reserved_qty, venue, venue_order_id, reject_reason, hold_reason, located_qty, created_at, updated_at, submitted_at) VALUES (gen_random_uuid(), ':acct', 'pgb-:client_id-:r', '{hash64}', ':asset_id', ':symbol', 'buy', 'limit', 'day', 'simple', 1, :last_price, false, 'pending_new', 0, :last_price, 0, '', '', '', '', 0, now(), now(), now()) RETURNING id AS order_id \\gset
UPDATE accounts_account SET reserved_cash = reserved_cash + :last_price WHERE id = ':acct';
INSERT INTO orders_outboxmessage (order_id, kind, payload, created_at, attempts, park_reason) VALUES (':order_id', 'new', '{{}}', now(), 0, '');
INSERT INTO compliance_auditevent (chain, seq, occurred_at, actor, action, entity_type, entity_id, data, prev_hash, hash) VALUES (':acct', :last_seq + 1, now(), 'bench', 'order.placed', 'order', ':order_id', '{audit_data}', ':last_hash', '{hash64}');
COMMIT;
"""


def pgbench_binary() -> str:
    found = shutil.which("pgbench") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))), None)
    if not found:
        sys.exit("pgbench not found (apt install postgresql-client)")
    return str(found)


def pgbench(naccounts: int, nassets: int, *, clients: int, seconds: int, workdir: Path) -> Result:
    audit_data = json.dumps({"client_order_id": "pgb", "symbol": "AAPL", "side": "buy", "type": "limit",
                             "time_in_force": "day", "qty": "1.000000000", "notional": None, "limit_price": "230.0000",
                             "stop_price": None, "status": "pending_new", "reserved_cash": "230.00",
                             "reserved_qty": "0", "buying_power_before": "1000000000000.00",
                             "buying_power_after": "999999999770.00"})
    script = workdir / "order_place.sql"
    script.write_text(PGBENCH_SCRIPT.format(naccounts=naccounts, nassets=nassets, hash64="f" * 64, audit_data=audit_data,
                                            open_statuses=", ".join(f"'{s}'" for s in sorted(OPEN_STATUSES))))
    logdir = workdir / f"log{clients}"
    logdir.mkdir()
    url = psycopg.conninfo.conninfo_to_dict(f"{PG_SERVER}/{DB_NAME}")
    cmd = [pgbench_binary(), "-n", "-M", "simple", "-f", str(script), "-c", str(clients), "-j", str(min(clients, 2)),
           "-T", str(seconds), "-l", f"--log-prefix={logdir}/pgbench", "-h", url.get("host", "127.0.0.1"),
           "-p", str(url.get("port", 5432)), "-U", url.get("user", "postgres"), DB_NAME]
    started = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if run.returncode:
        sys.exit(f"pgbench failed:\n{run.stdout}{run.stderr}")
    # Per-transaction log lines: client_id transaction_no latency_us script_no epoch epoch_us
    latencies = [int(line.split()[2]) / 1000 for f in logdir.iterdir() for line in f.read_text().splitlines()]
    tps = next((float(line.split("=")[1].split()[0]) for line in run.stdout.splitlines() if line.startswith("tps")), 0)
    result = Result(latencies, len(latencies) / tps if tps else elapsed, 0)
    return result


# ---------------------------------------------------------------- main


def start_servers(port: int, logfile) -> list[subprocess.Popen]:
    """WEB_WORKERS daphne processes on one shared socket, as `make run` starts them."""
    from tradex.launcher import listen_socket, web_specs

    sock = listen_socket("127.0.0.1", port)
    servers = [subprocess.Popen(spec.argv, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=logfile,
                                pass_fds=[s.fileno() for s in spec.inherit]) for spec in web_specs(sock, WEB_WORKERS)]
    sock.close()  # the workers hold it now
    deadline = time.monotonic() + 60
    while True:  # bounded: the first request waits for a worker to finish importing Django
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/schema/")
            if conn.getresponse().status == 200:
                return servers
        except OSError:
            pass
        if any(s.poll() is not None for s in servers) or time.monotonic() > deadline:
            for s in servers:
                s.kill()
            sys.exit("daphne did not start; see its log above")
        try:
            servers[0].wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            pass


CREATE_ACCOUNTS = """
import json
from decimal import Decimal
from accounts.services import account_create
out = []
for i in range({n}):
    account, key, secret = account_create(username=f"{prefix}{{i}}", cash=Decimal("1000000000000"))
    key.label = "{prefix}"
    key.save(update_fields=["label"])
    out.append({{"key_id": key.key_id, "secret_key": secret}})
print(json.dumps(out))
"""


def create_accounts(prefix: str, n: int) -> list[dict]:
    return json.loads(manage("shell", "-c", CREATE_ACCOUNTS.format(n=n, prefix=prefix)).strip().splitlines()[-1])


def fmt(result: Result) -> str:
    return (f"{result.pct(50):8.2f} {result.pct(99):8.2f} {max(result.latencies_ms, default=float('nan')):8.2f} "
            f"{result.rate:9.0f}")


def order_ack() -> None:
    """The order-ack bench itself: REST levels and paced load beside pgbench replaying the same SQL."""
    t_start = time.perf_counter()
    print(f"bench: fresh database {DB_NAME}, migrating…", flush=True)
    recreate_database()
    manage("migrate", "--noinput")
    manage("seed_demo", "--no-backfill")  # the order bench needs no bars history (bench/bars.py has its own)
    # The ack bench runs no venue: mark the configured venues' sessions up, as a connected bridge
    # would, so orders are routed and stay pending_new (the round trip is measured further down).
    manage("shell", "-c", "from django.conf import settings; from orders.models import Venue; "
           "[Venue.objects.update_or_create(name=n, defaults={'host': h, 'port': p, 'session': 'up'}) "
           "for n, h, p in settings.TRADEX_VENUES]")
    keys = create_accounts("bench", ACCOUNTS)
    create_accounts("pgbench", ACCOUNTS)
    with psycopg.connect(f"{PG_SERVER}/{DB_NAME}") as conn:
        symbols = [(s, str(p)) for s, p in conn.execute(
            "SELECT symbol, last_price FROM marketdata_asset WHERE tradable ORDER BY symbol").fetchall()]

    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="tradex-bench-"))
    with open(workdir / "daphne.log", "w+") as log:
        servers = start_servers(port, log)
        try:
            print(f"bench: {WEB_WORKERS} daphne worker(s) on :{port}, {ACCOUNTS} accounts; up to "
                  f"{ORDERS_PER_LEVEL} orders or {LEVEL_SECONDS:.0f} s per level", flush=True)
            closed_loop(port, keys, symbols, clients=8, orders=WARMUP_ORDERS)  # imports, connections, caches
            rest = {}
            for clients in LEVELS:
                rest[clients] = closed_loop(port, keys, symbols, clients=clients, orders=ORDERS_PER_LEVEL)
                print(f"  REST {clients:>2} clients: {len(rest[clients].latencies_ms)} orders", flush=True)
            paced_result = paced(port, keys, symbols, rate=PACED_RATE, seconds=PACED_SECONDS)
            print(f"  REST paced {PACED_RATE}/s: done", flush=True)
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                server.wait()
        log.seek(0)
        server_errors = log.read()

    ceiling = {}
    for clients in LEVELS:
        ceiling[clients] = pgbench(ACCOUNTS, len(symbols), clients=clients, seconds=PGBENCH_SECONDS, workdir=workdir)
    print(f"  pgbench: done ({sum(len(c.latencies_ms) for c in ceiling.values())} transactions)", flush=True)

    print()
    print(f"Order ack over REST (POST /v2/orders, commit included) vs pgbench running the same SQL{SMOKE_TAG}")
    print(f"{'':14} {'REST: p50':>9} {'p99':>8} {'max':>8} {'orders/s':>9} | {'pgbench: p50':>12} {'p99':>8} "
          f"{'max':>8} {'tx/s':>9} | {'REST/ceiling':>12}")
    for clients in LEVELS:
        r, c = rest[clients], ceiling[clients]
        ratio = r.rate / c.rate if c.rate else float("nan")
        print(f"{clients:>2} clients     {fmt(r)} | {'':4}{fmt(c)} | {ratio:11.1%}"
              + (f"  ({r.errors} errors: {r.first_error})" if r.errors else ""))
    p = paced_result
    print(f"paced {PACED_RATE}/s × {PACED_SECONDS}s: achieved {p.rate:.0f} orders/s, "
          f"p50 {p.pct(50):.2f} ms, p99 {p.pct(99):.2f} ms, max {max(p.latencies_ms, default=float('nan')):.2f} ms "
          f"(latency from each order's due time; target p99 < 10 ms)"
          + (f"; {p.errors} errors: {p.first_error}" if p.errors else ""))
    all_latencies = [x for r in rest.values() for x in r.latencies_ms]
    print(f"all REST orders: {len(all_latencies) + len(p.latencies_ms)} acknowledged, mean "
          f"{statistics.fmean(all_latencies):.2f} ms at closed loop; bench took {time.perf_counter() - t_start:.0f} s")
    if "Traceback" in server_errors:
        print("\ndaphne logged errors:\n" + server_errors[-3000:])
    shutil.rmtree(workdir, ignore_errors=True)


# Every part after the ack bench runs in its own process, so a crash, a sys.exit or a hang in one
# is reported and the run goes on to the next; the exit status says whether any part failed.
PART_TIMEOUT = float(knob("BENCH_PART_TIMEOUT", "3600", "150"))  # seconds; a hung part is killed
TAIL_LINES = 40


def run_part(name: str, script: str, *, env: dict | None = None, echo: bool = True) -> str | None:
    """bench/`script` in its own process group: its stdout echoed as it comes (unless `echo` is
    False) and returned; None if it failed (printed with the tail of its output)."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / script)], cwd=ROOT, env=env or dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    out, err = [], collections.deque(maxlen=TAIL_LINES)
    drain = threading.Thread(target=err.extend, args=(proc.stderr,), daemon=True)  # no pipe may fill up
    drain.start()
    timed_out = threading.Event()
    timer = threading.Timer(PART_TIMEOUT, lambda: (timed_out.set(), kill_group(proc.pid)))
    timer.start()
    try:
        for line in proc.stdout:
            out.append(line)
            if echo:
                print(line, end="", flush=True)
        code = proc.wait()
    finally:
        timer.cancel()
        kill_group(proc.pid)  # servers a failed part left behind
    drain.join(5)
    if code:
        failed(name, code, "".join([*out[-TAIL_LINES:], *err]), timed_out=timed_out.is_set())
        return None
    return "".join(out)


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:  # nothing left of it: the usual case
        pass


FAILURES: list[str] = []


def failed(name: str, code: int, tail: str, timed_out: bool = False) -> None:
    FAILURES.append(name)
    why = f"killed after {PART_TIMEOUT:.0f} s" if timed_out else f"exit {code}"
    print(f"\nbench: {name} FAILED ({why})\n" + "\n".join(f"  | {line}" for line in tail.rstrip().splitlines()[-TAIL_LINES:]),
          flush=True)


def main() -> None:
    t_start = time.perf_counter()
    if SMOKE:
        print("bench: SMOKE mode (BENCH_SMOKE=1): tiny sizes, figures are not measurements", flush=True)
    try:
        order_ack()
    except (Exception, SystemExit) as error:  # a sys.exit from manage/pgbench/daphne, or a crash
        code = error.code if isinstance(error, SystemExit) and isinstance(error.code, int) else 1
        failed("order ack (bench/run.py)", code, traceback.format_exc())
    fix_round_trip()
    print()
    run_part("matching", "matching.py")
    venue_restart()
    print(flush=True)
    run_part("bars", "bars.py")  # bars reads and backfill
    print()
    run_part("portfolio", "portfolio.py")  # own database and Django setup
    print()
    # Settlement of BENCH_SETTLE_N executions and 10,000 monthly statements (bench/settlement.py).
    run_part("settlement", "settlement.py")
    run_part("feed", "feed.py")  # quote ingest through the feed handler beside raw COPY
    print()
    run_part("cat report", "cat_report.py")  # a trading day's CAT file from BENCH_CAT_EVENTS audit events
    # The admin's audit search over BENCH_AUDIT_N events (10,000,000) beside the same SQL on raw psycopg.
    run_part("audit search", "audit_search.py")
    run_part("surveillance", "surveillance.py")  # the incremental scan beside the raw SELECT of its rows
    print("\nbench: market-data fan-out (bench/stream.py)…", flush=True)
    run_part("stream", "stream.py")
    took = time.perf_counter() - t_start
    if FAILURES:
        print(f"\nbench: {len(FAILURES)} part(s) FAILED: {', '.join(FAILURES)} ({took:.0f} s)", flush=True)
        sys.exit(1)
    print(f"\nbench: all parts ran{SMOKE_TAG} ({took:.0f} s)", flush=True)


def venue_restart() -> None:
    """A venue's restart after a full trading day: snapshot + journal tail (bench/venue_restart.py)."""
    print("\nbench: venue restart after a trading day (bench/venue_restart.py)…", flush=True)
    run_part("venue restart", "venue_restart.py")


def fix_round_trip() -> None:
    """Order → fill through the outbox, FIX and the venue and back (bench/fix_roundtrip.py)."""
    print("\nbench: order → fill round trip over FIX (one venue, 2 ms latency)…", flush=True)
    out = run_part("fix round trip", "fix_roundtrip.py", env=dict(ENV, DATABASE_URL=f"{PG_SERVER}/{DB_NAME}"), echo=False)
    if out is None:
        return
    r = json.loads(out.strip().splitlines()[-1])
    print(f"Order → fill round trip (order_place → outbox → NOTIFY → FIX → venue → ExecutionReport → applied){SMOKE_TAG}")
    print(f"  sequential: {r['filled']}/{r['orders']} filled, p50 {r['fill_p50']:.1f} ms, p99 {r['fill_p99']:.1f} ms "
          f"| ceiling: ack (order_place commit) p50 {r['ack_p50']:.1f} ms + venue latency {r['venue_latency_ms']} ms")
    print(f"  paced {r['paced_rate']}/s: {r['paced_filled']}/{r['paced_orders']} filled, "
          f"p50 {r['paced_fill_p50']:.1f} ms, p99 {r['paced_fill_p99']:.1f} ms")


if __name__ == "__main__":
    main()
