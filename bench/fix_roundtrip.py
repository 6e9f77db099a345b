"""Order → fill round trip through the whole broker path: order_place (risk, reservation, the
order and its outbox row committed), NOTIFY wakes the bridge, NewOrderSingle over a real QuickFIX
session on loopback, the venue's matching engine, ExecutionReports back, execution_apply
committed. Run by bench/run.py against the bench database (DATABASE_URL); prints one JSON line.

The ceiling printed beside it is the part no broker code can remove: the venue's configured
latency (each report leaves the venue that much after the request) plus order_place's own
commit, both measured in the same run.
"""
import json
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradex.settings")
os.environ.setdefault("TRADEX_MARKET_CLOCK", "always_open")  # the simulated market trades at any hour

import django  # noqa: E402

django.setup()

from exchange_sim.config import VenueConfig, reference_specs  # noqa: E402
from exchange_sim.server import VenueServer  # noqa: E402
from marketdata.models import Asset  # noqa: E402
from orders.fixbridge.bridge import FixBridge  # noqa: E402
from orders.models import Order, Venue  # noqa: E402
from orders.venue_selection import venue_cache_clear  # noqa: E402
from orders.services import order_place  # noqa: E402
from tests.factories import make_account  # noqa: E402
from bench.support import SMOKE, free_port, knob  # noqa: E402

ORDERS = int(knob("BENCH_FIX_ORDERS", "300", "30"))
RATE = int(knob("BENCH_FIX_RATE", "50", "10"))
LATENCY_MS = 2


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="tradex-fixbench-"))
    symbols = ["AAPL", "MSFT", "NVDA", "AMZN"]
    prices = {a.symbol: a.last_price for a in Asset.objects.filter(symbol__in=symbols)}
    port = free_port()  # never a fixed port: another bench or test may hold it
    config = VenueConfig(name="BENCH", port=port, latency_ms=LATENCY_MS, fee_per_share=Decimal("0.001"),
                         symbols=tuple(sorted(prices)), seed=1, journal_dir=str(workdir / "venue"))
    venue = VenueServer(config, reference_specs(prices), dictionary=ROOT / "fixspec" / "FIX44.xml",
                        state_dir=workdir / "venue", heartbeat_seconds=5, step_seconds=0.25)
    venue.start()
    Venue.objects.all().delete()
    venue_cache_clear()
    bridge = FixBridge(venues=[("BENCH", "127.0.0.1", port)], directory=workdir / "bridge", heartbeat=5)
    bridge.start()
    assert bridge.app.wait_for(lambda: bridge.app.is_logged_on("BENCH"), 30)
    venue_cache_clear()
    account = make_account(cash=Decimal("100000000"), account_type="margin")

    def one(i):
        t0 = time.perf_counter()
        order = order_place(account_id=account.pk, actor="bench", symbol=symbols[i % len(symbols)],
                            side="buy", order_type="market", qty="1",
                            time_in_force="day")
        t_ack = time.perf_counter()
        filled = bridge.app.wait_for(
            lambda: Order.objects.values_list("status", flat=True).get(pk=order.pk) == "filled", 10)
        t_fill = time.perf_counter()
        return (t_ack - t0) * 1000, (t_fill - t0) * 1000, filled

    for i in range(5 if SMOKE else 20):  # warm-up
        one(i)
    sequential = [one(i) for i in range(ORDERS)]
    paced, start = [], time.perf_counter()
    for i in range(RATE * 5):  # RATE orders/s for 5 s, one at a time as a client would
        due = start + i / RATE
        while (now := time.perf_counter()) < due:
            time.sleep(due - now)  # pacing the load generator, not waiting for a result
        paced.append(one(i))
    bridge.stop()
    venue.stop()
    acks = [a for a, _, _ in sequential]
    fills = [f for _, f, ok in sequential if ok]
    paced_fills = [f for _, f, ok in paced if ok]
    print(json.dumps({
        "orders": len(sequential), "filled": len(fills), "ack_p50": statistics.median(acks),
        "fill_p50": statistics.median(fills), "fill_p99": pct(fills, 0.99), "venue_latency_ms": LATENCY_MS,
        "paced_rate": RATE, "paced_filled": len(paced_fills), "paced_orders": len(paced),
        "paced_fill_p50": statistics.median(paced_fills), "paced_fill_p99": pct(paced_fills, 0.99),
    }))


if __name__ == "__main__":
    main()
