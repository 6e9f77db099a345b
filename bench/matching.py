"""Matching-engine benchmark, in-process: operations/s and latency p50/p95/p99 (µs) per operation
kind, on a book pre-populated the way the market makers leave it (levels both sides of 100.00,
several orders each). Target: p95 < 50 µs (SLO: < 1 ms).

Engine rows time MatchingEngine calls alone (validation, matching, event objects, Decimal
conversions). The venue row times Venue.new_order as the FIX layer calls it: lock, journal write
(no fsync), engine, event routing.

Standalone: `.venv/bin/python bench/matching.py` (BENCH_MATCHING_OPS, default 200000 per row).
From bench/run.py: `from bench.matching import run; run(report=print)`.
"""
from __future__ import annotations

import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.support import SMOKE_TAG, knob  # noqa: E402
from exchange_sim import MatchingEngine, SymbolSpec, Venue, VenueConfig  # noqa: E402

OPS = int(knob("BENCH_MATCHING_OPS", "200000", "2000"))
TICK = Decimal("0.01")
SPEC = SymbolSpec(symbol="BENCH", reference_price=Decimal("100.00"))
MID = 10000  # ticks
LEVELS = 50
ORDERS_PER_LEVEL = 8
PRICES = {t: TICK * t for t in range(MID - 2 * LEVELS, MID + 2 * LEVELS + 1)}
QTYS = [Decimal(q) for q in range(1, 1001)]
TARGET_P95_US = 50


@dataclass
class Row:
    name: str
    ops: int
    latencies_ns: list[int]

    @property
    def rate(self) -> float:
        """Operations per second of time spent inside the measured calls (harness excluded)."""
        return self.ops / (sum(self.latencies_ns) / 1e9)

    def pct_us(self, p: float) -> float:
        values = sorted(self.latencies_ns)
        return values[min(len(values) - 1, int(p / 100 * len(values)))] / 1000


def populated_engine(rng: random.Random) -> MatchingEngine:
    engine = MatchingEngine(SPEC, fee_per_share=Decimal("0.002"))
    for level in range(1, LEVELS + 1):
        for k in range(ORDERS_PER_LEVEL):
            for side, ticks in (("buy", MID - level), ("sell", MID + level)):
                engine.submit(owner=f"mm:{k}", cl_ord_id=f"seed-{side}-{level}-{k}", side=side, ord_type="limit",
                              qty=QTYS[rng.randrange(100, 500)], price=PRICES[ticks], tif="day")
    return engine


def timed(name: str, ops: int, op: Callable[[int], object]) -> Row:
    latencies = [0] * ops
    clock = time.perf_counter_ns
    for i in range(ops):
        t0 = clock()
        op(i)
        latencies[i] = clock() - t0
    return Row(name, ops, latencies)


def bench_add_and_cancel(ops: int, rng: random.Random) -> list[Row]:
    """Resting limits behind the touch, then cancels of those same orders in random order."""
    engine = populated_engine(rng)
    sides = [rng.random() < 0.5 for _ in range(ops)]
    depth = [rng.randrange(1, LEVELS) for _ in range(ops)]
    qtys = [QTYS[rng.randrange(1, 500)] for _ in range(ops)]
    orders = [None] * ops
    submit = engine.submit

    def add(i):
        buy = sides[i]
        orders[i] = submit(owner="c", cl_ord_id="x", side="buy" if buy else "sell", ord_type="limit", qty=qtys[i],
                           price=PRICES[MID - depth[i] if buy else MID + depth[i]], tif="day")[0]

    add_row = timed("add limit (resting)", ops, add)
    rng.shuffle(orders)
    cancel = engine.cancel
    cancel_row = timed("cancel", ops, lambda i: cancel(orders[i], cl_ord_id="y"))
    return [add_row, cancel_row]


def bench_market(ops: int, rng: random.Random) -> Row:
    """Market orders of 1–500 shares (one to a few fills each); the touch is replenished between
    measured operations, as the makers would."""
    engine = populated_engine(rng)
    sides = ["buy" if rng.random() < 0.5 else "sell" for _ in range(ops)]
    qtys = [QTYS[rng.randrange(0, 500)] for _ in range(ops)]
    latencies, clock, submit = [0] * ops, time.perf_counter_ns, engine.submit
    for i in range(ops):
        side = sides[i]
        t0 = clock()
        submit(owner="c", cl_ord_id="m", side=side, ord_type="market", qty=qtys[i], tif="ioc")
        latencies[i] = clock() - t0
        # replenish what was taken at the touch (not timed)
        best = engine.best_ask() if side == "buy" else engine.best_bid()
        price = best[0] if best else PRICES[MID + 1 if side == "buy" else MID - 1]
        submit(owner="mm:r", cl_ord_id="r", side="sell" if side == "buy" else "buy", ord_type="limit",
               qty=qtys[i], price=price, tif="day")
    return Row("market order (crossing)", ops, latencies)


def bench_mixed(ops: int, rng: random.Random) -> Row:
    """60 % resting adds, 25 % cancels, 10 % marketable limits, 5 % replaces."""
    engine = populated_engine(rng)
    live: list = []
    kinds = rng.choices(["add", "cancel", "cross", "replace"], weights=[60, 25, 10, 5], k=ops)
    sides = [rng.random() < 0.5 for _ in range(ops)]
    depth = [rng.randrange(1, LEVELS) for _ in range(ops)]
    qtys = [QTYS[rng.randrange(1, 300)] for _ in range(ops)]
    picks = [rng.random() for _ in range(ops)]
    submit, cancel, replace = engine.submit, engine.cancel, engine.replace

    def op(i):
        kind, buy = kinds[i], sides[i]
        if kind == "add" or not live:
            order = submit(owner="c", cl_ord_id="x", side="buy" if buy else "sell", ord_type="limit", qty=qtys[i],
                           price=PRICES[MID - depth[i] if buy else MID + depth[i]], tif="day")[0]
            live.append(order)
        elif kind == "cross":
            submit(owner="t", cl_ord_id="t", side="buy" if buy else "sell", ord_type="limit", qty=qtys[i],
                   price=PRICES[MID + 3 if buy else MID - 3], tif="ioc")
        else:
            j = int(picks[i] * len(live))
            order = live[j]
            live[j] = live[-1]
            live.pop()
            if kind == "cancel":
                cancel(order, cl_ord_id="c")
            else:
                replace(order, cl_ord_id="r", qty=qtys[i], price=None)
                if order.resting:
                    live.append(order)

    return timed("mixed workload", ops, op)


def bench_venue(ops: int, rng: random.Random) -> Row:
    """Venue.new_order end to end (lock + journal line + engine), resting limits then cancels."""
    ops = min(ops, 50_000)  # the journal file grows with every op
    with tempfile.TemporaryDirectory() as journal_dir:
        config = VenueConfig(name="BENCH", port=0, fee_per_share=Decimal("0.002"), symbols=("BENCH",), seed=1,
                             journal_dir=journal_dir)
        with Venue(config, {"BENCH": SPEC}) as venue:
            venue.step()
            qtys = [QTYS[rng.randrange(1, 500)] for _ in range(ops)]
            depth = [rng.randrange(5, LEVELS) for _ in range(ops)]
            sides = [rng.random() < 0.5 for _ in range(ops)]
            ref = int(venue.reference("BENCH") / TICK)

            def new(i):
                buy = sides[i]
                venue.new_order(owner="c", cl_ord_id=f"v{i}", symbol="BENCH", side="buy" if buy else "sell",
                                ord_type="limit", qty=qtys[i], price=TICK * (ref - depth[i] if buy else ref + depth[i]),
                                tif="day")

            return timed("venue new_order (lock+journal)", ops, new)


def run(report: Callable[[str], object] = print, ops: int = OPS) -> list[Row]:
    rng = random.Random(20250102)
    rows = [*bench_add_and_cancel(ops, rng), bench_market(ops, rng), bench_mixed(ops, rng), bench_venue(ops, rng)]
    report(f"Matching engine, in-process ({LEVELS} levels × {ORDERS_PER_LEVEL} orders each side pre-populated; "
           f"target p95 < {TARGET_P95_US} µs, SLO < 1 ms){SMOKE_TAG}")
    report(f"{'operation':32} {'ops':>8} {'ops/s*':>10} {'p50 µs':>8} {'p95 µs':>8} {'p99 µs':>8}")
    for row in rows:
        report(f"{row.name:32} {row.ops:>8} {row.rate:>10.0f} {row.pct_us(50):>8.1f} {row.pct_us(95):>8.1f} "
               f"{row.pct_us(99):>8.1f}")
    report("* operations per second of time spent inside the measured calls, one thread")
    return rows


def main() -> None:
    run()


if __name__ == "__main__":
    main()
