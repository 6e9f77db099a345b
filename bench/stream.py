"""Market-data fan-out: feed (channel layer) -> daphne -> 1,000 WebSocket clients, beside a bare
`websockets` broadcast server fed over Redis pub/sub doing the same fan-out on the same machine.

    .venv/bin/python bench/stream.py

Production-like: BENCH_STREAM_WORKERS daphne workers on one shared socket (as `make run` starts
them), a fresh database (tradex_bench_stream), Redis. BENCH_STREAM_CLIENTS connections (asyncio +
websockets, in BENCH_STREAM_CLIENT_PROCS processes) each authenticate with an API key and subscribe
to the trades and quotes of BENCH_STREAM_SYMBOLS_PER_CLIENT symbols (spread round-robin over the
seeded assets). A publisher process sends md.update messages (marketdata.groups' contract: one
quote and one trade per update, the trade's id = time.time_ns() at send) through the channel layer
at BENCH_STREAM_RATE updates/s spread over all symbols for BENCH_STREAM_SECONDS; clients measure
feed -> client latency from each trade (same clock). Then the "hot symbol" burst: every client
also watches one symbol that is updated BENCH_STREAM_HOT_RATE times a second. Trades are never
conflated, so delivered/expected counts trades.

Phases run for each channel layer in BENCH_STREAM_LAYERS (default pubsub; "pubsub,core" compares). Idle memory: RSS of the
web processes before and after the clients connect (authenticated, nothing subscribed), per
connection. The ceiling: the same clients, publisher rate and fan-out against a bare websockets
server (BENCH_STREAM_WORKERS processes, SO_REUSEPORT) that subscribes to Redis pub/sub and
broadcasts JSON frames.

The publisher is a function `publisher(symbols, rate, seconds, hot=None) -> {symbol: count}` run in
its own process; BENCH_STREAM_PUBLISHER=module:function swaps it (e.g. for the feed handler).
"""
from __future__ import annotations

import asyncio
import importlib
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import support  # noqa: E402
from bench.support import SMOKE, SMOKE_TAG, free_port, knob  # noqa: E402

PG_SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "tradex_bench_stream"
# The same Redis database as bench/run.py unless told otherwise.
REDIS_URL = os.environ.get("BENCH_STREAM_REDIS_URL") or os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
CLIENTS = int(knob("BENCH_STREAM_CLIENTS", "1000", "20"))
CLIENT_PROCS = int(os.environ.get("BENCH_STREAM_CLIENT_PROCS", "2"))
PER_CLIENT = int(os.environ.get("BENCH_STREAM_SYMBOLS_PER_CLIENT", "20"))
RATE = float(os.environ.get("BENCH_STREAM_RATE", "20"))  # updates/s over all symbols
SECONDS = float(knob("BENCH_STREAM_SECONDS", "8", "2"))
HOT_RATE = float(os.environ.get("BENCH_STREAM_HOT_RATE", "5"))
HOT_SECONDS = float(knob("BENCH_STREAM_HOT_SECONDS", "4", "1"))
WORKERS = int(os.environ.get("BENCH_STREAM_WORKERS", str(os.cpu_count() or 1)))
LAYERS = [x for x in os.environ.get("BENCH_STREAM_LAYERS", "pubsub").split(",") if x]
PUBLISHER = os.environ.get("BENCH_STREAM_PUBLISHER", "bench.stream:channel_layer_publisher")
CEILING_CHANNEL = "bench.ceiling."

ENV = {**os.environ, "DATABASE_URL": f"{PG_SERVER}/{DB_NAME}", "REDIS_URL": REDIS_URL,
       "DJANGO_SETTINGS_MODULE": "tradex.settings", "PYTHONUNBUFFERED": "1",
       "TRADEX_STREAM_MAX_SYMBOLS": str(PER_CLIENT + 1), "TRADEX_MARKET_CLOCK": "always_open",
       # the 1,000 simulated clients share one API key: lift the per-user connection cap
       "TRADEX_STREAM_MAX_CONNECTIONS_PER_USER": "0"}


# ------------------------------------------------------------------ messages and publishers


def _update(symbol: str, price: str) -> dict:
    now = time.time_ns()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now // 10**9)) + f".{now % 10**9:09d}Z"
    return {"type": "md.update", "symbol": symbol, "sent_ns": now,
            "q": {"T": "q", "S": symbol, "bx": "V", "bp": price, "bs": "100", "ax": "Q", "ap": price, "as": "200",
                  "t": stamp, "c": ["R"], "z": "C"},
            "t": [{"T": "t", "S": symbol, "i": now, "x": "V", "p": price, "s": "10", "t": stamp, "c": ["@"],
                   "z": "C"}],
            "b": []}


async def _paced(symbols, rate, seconds, hot, send):
    """Open loop: update k is due at start + k/rate (round-robin over symbols; with `hot`, every
    update is the hot symbol's). Returns the count sent per symbol."""
    sent: dict[str, int] = {}
    start = time.perf_counter()
    k = 0
    while (due := start + k / rate) < start + seconds:
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)  # pacing the sender
        symbol = hot or symbols[k % len(symbols)]
        await send(symbol, _update(symbol, f"{100 + k % 100}.{k % 10000:04d}"))
        sent[symbol] = sent.get(symbol, 0) + 1
        k += 1
    return sent


def channel_layer_publisher(symbols, rate, seconds, hot=None):
    """What the feed handler does: group_send to symbol_group(symbol) through Django's layer."""
    import django

    django.setup()
    from channels.layers import get_channel_layer

    from marketdata.groups import symbol_group

    async def run():
        layer = get_channel_layer()

        async def send(symbol, message):
            await layer.group_send(symbol_group(symbol), message)

        return await _paced(symbols, rate, seconds, hot, send)

    return asyncio.run(run())


def feed_publisher(symbols, rate, seconds, hot=None):
    """The whole feed path: a venue FeedPublisher sequences one quote and one trade per update as
    binary records over TCP to a real FeedHandler (tick store, cache, conflating publisher), whose
    group messages the stream fans out. The trade's exchange timestamp is its send time."""
    import django

    django.setup()
    from decimal import Decimal

    import numpy as np

    from core.wire import feed_protocol as fp
    from exchange_sim.feed import FeedPublisher
    from marketdata.feed.handler import FEED_SWITCH_INTERVAL, FeedHandler

    sys.setswitchinterval(FEED_SWITCH_INTERVAL)  # as run_feed does
    venue = FeedPublisher("SIMA", list(symbols)).start()
    handler = FeedHandler([("SIMA", "127.0.0.1", venue.port)]).start()
    client = handler.clients[0]
    assert client.wait_for(lambda c: c.snapshots >= 1, 30), "feed handler did not connect"

    async def send(symbol, message):
        price = fp.scaled(Decimal(message["q"]["bp"]))
        records = np.zeros(2, dtype=fp.RECORD)
        records["ts_ns"] = time.time_ns()
        records["symbol_id"] = venue.symbol_ids[symbol]
        records["kind"] = [fp.QUOTE, fp.TRADE]
        records["px"] = price
        records["sz"] = [100 * fp.PRICE_SCALE, 10 * fp.PRICE_SCALE]
        records["ask"][0], records["ask_sz"][0] = price + 10_000, 200 * fp.PRICE_SCALE
        venue.publish_records(records)

    try:
        sent = asyncio.run(_paced(symbols, rate, seconds, hot, send))
        client.wait_for(lambda c: client.last_seq == venue.last_seq, 30)
        handler.publisher.wait_idle(30)
    finally:
        handler.stop()
        venue.stop()
    return sent


def redis_publisher(symbols, rate, seconds, hot=None):
    """The ceiling's feed: one PUBLISH of the Alpaca JSON frame per update."""
    import orjson
    import redis.asyncio as aioredis

    async def run():
        client = aioredis.from_url(REDIS_URL)

        async def send(symbol, message):
            frame = orjson.dumps([message["t"][0], message["q"]])
            await client.publish(CEILING_CHANNEL + symbol, frame)

        try:
            return await _paced(symbols, rate, seconds, hot, send)
        finally:
            await client.aclose()

    return asyncio.run(run())


def _publish_in_process(target: str, symbols, rate, seconds, hot, out, env):
    os.environ.update(env)  # the servers' settings: same Redis, same channel layer
    module, function = target.split(":")
    out.send(getattr(importlib.import_module(module), function)(symbols, rate, seconds, hot))


def publish(target: str, symbols, rate, seconds, hot=None, env=None) -> dict[str, int]:
    parent, child = mp.Pipe()
    proc = mp.Process(target=_publish_in_process, args=(target, symbols, rate, seconds, hot, child, env or ENV))
    proc.start()
    child.close()  # so that a publisher that dies ends the recv (EOFError) instead of hanging it
    try:
        sent = parent.recv()
    except EOFError:
        raise SystemExit(f"bench stream: the publisher {target} died (exit code {proc.join() or proc.exitcode})")
    proc.join()
    return sent


# ------------------------------------------------------------------ clients


_seconds: dict[str, int] = {}


def _ns_of(stamp: str) -> int:
    """RFC 3339 UTC with nanoseconds -> Unix ns; the seconds part cached (a run spans few)."""
    head, _, fraction = stamp.rstrip("Z").partition(".")
    seconds = _seconds.get(head)
    if seconds is None:
        import calendar

        seconds = _seconds[head] = calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S"))
    return seconds * 1_000_000_000 + int(fraction.ljust(9, "0")[:9] or 0)


def _client_process(conn, port: int, path: str, plans: list[list[str]], key: dict | None):
    """Hold len(plans) connections; obey commands from `conn`: subscribe / hot SYMBOL / collect /
    quit. Reports (trade latencies in ms, trades received, errors)."""
    import orjson
    from websockets.asyncio.client import connect

    async def main():
        state = {"lat": [], "trades": 0, "errors": [], "collect": False}
        sockets = []

        async def reader(ws):
            async for raw in ws:
                now = time.time_ns()
                for m in orjson.loads(raw):
                    if m.get("T") == "t":
                        state["trades"] += 1
                        if state["collect"]:  # from the trade's exchange timestamp
                            state["lat"].append((now - _ns_of(m["t"])) / 1e6)
                    elif m.get("T") == "error":
                        state["errors"].append(m)

        async def open_one():
            ws = await connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=60, ping_interval=None)
            if key is not None:
                await ws.recv()  # connected
                await ws.send(orjson.dumps({"action": "auth", "key": key["key_id"], "secret": key["secret_key"]}))
                reply = orjson.loads(await ws.recv())
                assert reply[0].get("msg") == "authenticated", reply
            return ws

        for i in range(0, len(plans), 50):  # 50 handshakes at a time
            sockets += await asyncio.gather(*(open_one() for _ in plans[i:i + 50]))
        loop = asyncio.get_running_loop()

        async def subscribe(symbol_lists):
            for ws, symbols in zip(sockets, symbol_lists):
                await ws.send(orjson.dumps({"action": "subscribe", "trades": symbols, "quotes": symbols}
                                           if key is not None else {"symbols": symbols}))
            for ws in sockets:
                while True:  # frames of the previous phase may still be ahead of the reply
                    reply = orjson.loads(await ws.recv())
                    if reply[0].get("T") == "subscription":
                        break
                    assert reply[0].get("T") != "error", reply

        conn.send("connected")
        tasks = []
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command == "subscribe":
                await subscribe(plans)
                tasks = [asyncio.ensure_future(reader(ws)) for ws in sockets]
                conn.send("ok")
            elif isinstance(command, tuple) and command[0] == "hot":
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await subscribe([[command[1]] for _ in sockets])
                tasks = [asyncio.ensure_future(reader(ws)) for ws in sockets]
                conn.send("ok")
            elif command == "start":
                state.update(lat=[], trades=0, collect=True)
                conn.send("ok")
            elif command == "count":
                conn.send(state["trades"])
            elif command == "collect":
                conn.send((state["lat"], state["trades"], state["errors"][:3]))
                state["collect"] = False
            elif command == "quit":
                for t in tasks:
                    t.cancel()
                for ws in sockets:
                    await ws.close()
                conn.send("bye")
                return

    asyncio.run(main())


class Clients:
    def __init__(self, port: int, path: str, plans: list[list[str]], key: dict | None):
        self.conns, self.procs = [], []
        share = -(-len(plans) // CLIENT_PROCS)
        for i in range(CLIENT_PROCS):
            parent, child = mp.Pipe()
            proc = mp.Process(target=_client_process, args=(child, port, path, plans[i * share:(i + 1) * share], key))
            proc.start()
            self.conns.append(parent)
            self.procs.append(proc)
        self.ask(None)  # wait for "connected"

    def ask(self, command):
        if command is not None:
            for c in self.conns:
                c.send(command)
        return [c.recv() for c in self.conns]

    def collect(self):
        lat, trades, errors = [], 0, []
        for got_lat, got_trades, got_errors in self.ask("collect"):
            lat += got_lat
            trades += got_trades
            errors += got_errors
        return lat, trades, errors

    def close(self):
        self.ask("quit")
        for p in self.procs:
            p.join(timeout=30)


def plans_for(symbols: list[str]) -> list[list[str]]:
    return [[symbols[(i + j) % len(symbols)] for j in range(PER_CLIENT)] for i in range(CLIENTS)]


def expected(plans, sent: dict[str, int]) -> int:
    watchers: dict[str, int] = {}
    for plan in plans:
        for s in plan:
            watchers[s] = watchers.get(s, 0) + 1
    return sum(n * watchers.get(s, 0) for s, n in sent.items())


# ------------------------------------------------------------------ servers


def rss_kb(pids) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def wait_port(port: int, procs, deadline: float = 60) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if any(p.poll() is not None for p in procs):
            sys.exit("a server exited at start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)  # polling the port until the server listens
    sys.exit("server did not start")


def start_daphne(port: int, layer: str, log) -> list[subprocess.Popen]:
    from tradex.launcher import listen_socket, web_specs

    sock = listen_socket("127.0.0.1", port)
    env = {**ENV, "TRADEX_CHANNEL_LAYER": layer}
    procs = [subprocess.Popen(spec.argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log,
                              pass_fds=[s.fileno() for s in spec.inherit]) for spec in web_specs(sock, WORKERS)]
    sock.close()
    wait_port(port, procs)
    # First request per worker imports the URLconf: warm up with a few HTTP requests.
    import http.client
    for _ in range(WORKERS * 2):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/v2/clock")
        c.getresponse().read()
    return procs


CEILING_SERVER = r'''
import asyncio, os, sys
import orjson, redis.asyncio as aioredis
from websockets.asyncio.server import serve, broadcast
port, redis_url, prefix = int(sys.argv[1]), sys.argv[2], sys.argv[3]
watchers = {}
async def handler(ws):
    try:
        await serve_one(ws)
    except Exception:
        pass
async def serve_one(ws):
    msg = orjson.loads(await ws.recv())
    mine = msg["symbols"]
    for s in mine: watchers.setdefault(s, set()).add(ws)
    await ws.send(b'[{"T":"subscription"}]'.decode())
    try:
        async for msg in ws:
            new = orjson.loads(msg)["symbols"]
            for s in new: watchers.setdefault(s, set()).add(ws)
            mine += new
            await ws.send(b'[{"T":"subscription"}]'.decode())
    except Exception:
        pass
    finally:
        for s in mine: watchers.get(s, set()).discard(ws)
async def main():
    client = aioredis.from_url(redis_url)
    pubsub = client.pubsub()
    await pubsub.psubscribe(prefix + "*")
    async def pump():
        async for m in pubsub.listen():
            if m["type"] == "pmessage":
                symbol = m["channel"].decode()[len(prefix):]
                broadcast(watchers.get(symbol, ()), m["data"].decode())
    asyncio.ensure_future(pump())
    async with serve(handler, "127.0.0.1", port, reuse_port=True, max_size=None, ping_interval=None):
        print("ready", flush=True)
        await asyncio.Future()
asyncio.run(main())
'''


def start_ceiling(port: int, log) -> list[subprocess.Popen]:
    procs = [subprocess.Popen([sys.executable, "-c", CEILING_SERVER, str(port), REDIS_URL, CEILING_CHANNEL],
                              stdout=subprocess.PIPE, stderr=log, text=True) for _ in range(WORKERS)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    return procs


def stop(procs) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=30)


# ------------------------------------------------------------------ phases


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else float("nan")


def run_phases(port: int, path: str, key, symbols, server_pids, publisher: str, env=None) -> dict:
    result = {}
    plans = plans_for(symbols)
    Clients(port, path, plans[:CLIENT_PROCS * 10], key).close()  # imports, pools, first-use caches
    before = rss_kb(server_pids)
    clients = Clients(port, path, plans, key)
    try:
        result["rss_per_conn_kb"] = (rss_kb(server_pids) - before) / CLIENTS
        clients.ask("subscribe")
        clients.ask("start")
        sent = publish(publisher, symbols, RATE, SECONDS, env=env)
        wait_drained(clients, expected(plans, sent))
        lat, trades, errors = clients.collect()
        result["steady"] = (lat, trades, expected(plans, sent), errors)
        hot = symbols[0]
        clients.ask(("hot", hot))
        clients.ask("start")
        sent = publish(publisher, symbols, HOT_RATE, HOT_SECONDS, hot=hot, env=env)
        wait_drained(clients, sent[hot] * CLIENTS)
        lat, trades, errors = clients.collect()
        result["hot"] = (lat, trades, sent[hot] * CLIENTS, errors)
    finally:
        clients.close()
    return result


def wait_drained(clients: Clients, want: int, timeout: float = 10) -> None:
    """After the publisher stops, give deliveries in flight up to `timeout` s to arrive."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if sum(clients.ask("count")) >= want:
            return
        time.sleep(0.2)  # polling client counters, bounded by the timeout


def setup_database() -> tuple[dict, list[str]]:
    import json

    support.recreate_database(PG_SERVER, DB_NAME)

    def manage(*args):
        return support.manage(ENV, *args)

    manage("migrate", "--noinput")
    manage("seed_demo", *(["--no-backfill"] if SMOKE else []))  # the fan-out reads no bars; smoke skips the year
    out = manage("shell", "-c", "import json\nfrom decimal import Decimal\nfrom accounts.services import account_create\n"
                 "a, k, s = account_create(username='streambench', cash=Decimal('1000'))\n"
                 "from marketdata.models import Asset\n"
                 "print(json.dumps({'key_id': k.key_id, 'secret_key': s, "
                 "'symbols': sorted(Asset.objects.values_list('symbol', flat=True))}))")
    info = json.loads(out.strip().splitlines()[-1])
    return {"key_id": info["key_id"], "secret_key": info["secret_key"]}, info["symbols"]


def row(name: str, r, ceiling=None) -> str:
    lat, trades, want, errors = r
    text = (f"{name:<26} {pct(lat, 50):7.2f} {pct(lat, 99):8.2f} {max(lat, default=float('nan')):8.1f} "
            f"{trades:>9}/{want:<9} {trades / want if want else float('nan'):6.1%}")
    if ceiling is not None:
        text += f" | p99 vs ceiling {pct(lat, 99) / pct(ceiling[0], 99):5.1f}x"
    return text + (f"  errors: {errors}" if errors else "")


def main() -> None:
    t0 = time.perf_counter()
    print(f"bench stream: fresh database {DB_NAME}…", flush=True)
    key, symbols = setup_database()
    print(f"bench stream: {len(symbols)} symbols, {CLIENTS} clients × {PER_CLIENT} symbols, {WORKERS} daphne "
          f"workers, {RATE:.0f} updates/s for {SECONDS:.0f} s, hot symbol {HOT_RATE:.0f}/s for {HOT_SECONDS:.0f} s",
          flush=True)
    results = {}
    log_path = Path(tempfile.mkdtemp(prefix="tradex-bench-stream-")) / "servers.log"
    log = open(log_path, "w")
    for layer in LAYERS:
        port = free_port()
        procs = start_daphne(port, layer, log)
        try:
            results[layer] = run_phases(port, "/v2/sip", key, symbols, [p.pid for p in procs], PUBLISHER,
                                        env={**ENV, "TRADEX_CHANNEL_LAYER": layer})
        finally:
            stop(procs)
        print(f"  TradeX on the {layer} layer: done ({time.perf_counter() - t0:.0f} s)", flush=True)
    port = free_port()
    procs = start_ceiling(port, log)
    try:
        ceiling = run_phases(port, "/", None, symbols, [p.pid for p in procs], "bench.stream:redis_publisher")
    finally:
        stop(procs)
    print(f"  ceiling: done ({time.perf_counter() - t0:.0f} s)", flush=True)

    print()
    print("Feed -> WebSocket latency (ms, trades; channel layer -> daphne -> client) vs a bare websockets "
          f"broadcast server fed by Redis pub/sub{SMOKE_TAG}")
    print(f"{'':26} {'p50':>7} {'p99':>8} {'max':>8} {'delivered/expected':>19} {'':>6}")
    for layer, r in results.items():
        print(row(f"{layer}: {PER_CLIENT} symbols each", r["steady"], ceiling["steady"]))
        print(row(f"{layer}: hot symbol burst", r["hot"], ceiling["hot"]))
    print(row("ceiling: 20 symbols each", ceiling["steady"]))
    print(row("ceiling: hot symbol burst", ceiling["hot"]))
    print("idle connection memory (RSS delta / connection): " + ", ".join(
        f"{layer} {r['rss_per_conn_kb']:.1f} KiB" for layer, r in results.items())
        + f" | ceiling {ceiling['rss_per_conn_kb']:.1f} KiB")
    print(f"(target: feed -> WebSocket p99 < 10 ms; bench took {time.perf_counter() - t0:.0f} s)")
    log.close()
    errors = log_path.read_text()
    if "Traceback" in errors:
        print("\nserver log:\n" + errors[-3000:])


if __name__ == "__main__":
    main()
