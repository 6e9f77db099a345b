"""Venue restart after a full trading day: load the last snapshot, replay the journal's tail.

Drives the venue core directly (no FIX, no timer), with a clock that crosses a whole 6.5-hour
session: BENCH_RESTART_ORDERS customer commands (resting limits, cancels, replaces, marketable
orders) spread over the day, the makers stepped BENCH_RESTART_STEPS times in between (each step
moves the walk by the intervals elapsed: it is indexed by time), then steps at the makers' rate
(every 0.25 s) until the next one would trigger a snapshot — the longest tail a crash can leave.
Then the venue "crashes" (no shutdown snapshot) and a new Venue is timed as it starts from the
files. The ceiling beside it is reading those same files raw and parsing the snapshot's JSON.

Journal volume per day is measured per step (at the makers' rate: 93,600 steps in 6.5 h): before,
every step journaled every symbol's quote sets (rebuilt here in that format, byte for byte the
records the old code wrote) and a restart replayed the whole day; now a step journals the walk's
state and a one-line requote record, and what stays on disk is one snapshot and one tail.

Standalone: `.venv/bin/python bench/venue_restart.py [--smoke]` (BENCH_SMOKE=1 is the same);
from bench/run.py in its own process. Environment: BENCH_RESTART_SYMBOLS (68, as seed_demo),
BENCH_RESTART_ORDERS, BENCH_RESTART_STEPS.
"""
from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import support  # noqa: E402
from exchange_sim import Rejected, Venue, default_venues, reference_specs  # noqa: E402
from exchange_sim.makers import maker_quotes  # noqa: E402

SMOKE = "--smoke" in sys.argv or support.SMOKE
SYMBOLS = int(os.environ.get("BENCH_RESTART_SYMBOLS", "8" if SMOKE else "68"))
ORDERS = int(os.environ.get("BENCH_RESTART_ORDERS", "2000" if SMOKE else "30000"))
STEPS = int(os.environ.get("BENCH_RESTART_STEPS", "40" if SMOKE else "300"))
OPEN = datetime(2025, 6, 2, 13, 30, tzinfo=timezone.utc)  # 09:30 New York
DAY = timedelta(hours=6, minutes=30)
STEP_S = 0.25
STEPS_PER_DAY = int(DAY.total_seconds() / STEP_S)
TARGET_S = 5.0


class Clock:
    def __init__(self) -> None:
        self.now = OPEN

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1)
        return self.now


def old_format_step_bytes(venue: Venue, at: datetime) -> int:
    """Bytes the journal used to take for one step: the step record with walk offsets and
    references, and one "quotes" record per symbol carrying every maker's quote set."""
    ts = at.isoformat()
    config, total = venue.config, 0
    refs = {s: venue.reference(s) for s in venue.specs}
    total += len(orjson.dumps({"c": "step", "ts": ts, "k": 1, "offsets": {s: 0.123456789 for s in refs},
                               "refs": {s: str(p) for s, p in refs.items()}})) + 1
    for symbol, spec in venue.specs.items():
        quotes = maker_quotes(spec, refs[symbol], makers=config.makers_per_symbol, levels=config.maker_levels)
        total += len(orjson.dumps({"c": "quotes", "ts": ts, "sym": symbol,
                                   "q": {owner: [[side, str(px), str(qty)] for side, px, qty in book]
                                         for owner, book in quotes.items()}})) + 1
    return total


def trade_the_day(venue: Venue, clock: Clock, rng: random.Random) -> None:
    symbols = list(venue.specs)
    placed: list[tuple[str, str]] = []
    step_every = max(1, ORDERS // max(STEPS, 1))
    gap = DAY / (ORDERS + 1)
    for i in range(ORDERS):
        clock.now += gap
        if i % step_every == 0:
            venue.step(clock.now)
        owner = f"broker{i % 3}"
        roll = rng.random()
        if roll < 0.6 or not placed:
            symbol = rng.choice(symbols)
            ref = venue.reference(symbol)
            marketable = rng.random() < 0.2
            offset = Decimal(rng.randint(1, 30)) * Decimal("0.01")
            buy = rng.random() < 0.5
            price = ref + offset if buy == marketable else ref - offset
            answer = venue.new_order(owner=owner, cl_ord_id=f"o{i}", symbol=symbol, side="buy" if buy else "sell",
                                     ord_type="limit", qty=Decimal(rng.randint(1, 500)),
                                     price=max(price, Decimal("0.01")), tif="day")
            if answer and not isinstance(answer[0], Rejected):
                placed.append((owner, f"o{i}"))
        elif roll < 0.85:
            owner, cl = placed.pop(rng.randrange(len(placed)))
            venue.cancel(owner=owner, cl_ord_id=f"c{i}", orig_cl_ord_id=cl)
        else:
            owner, cl = rng.choice(placed)
            venue.replace(owner=owner, cl_ord_id=f"r{i}", orig_cl_ord_id=cl, qty=Decimal(rng.randint(1, 500)))


def fill_the_tail(venue: Venue, clock: Clock) -> tuple[int, float]:
    """Step at the makers' rate until the next step would snapshot: the longest tail. Returns the
    tail's steps and the mean time to apply one step."""
    steps, costs = 0, []
    budget = venue.config.snapshot_replay_budget_s
    while not costs or venue.unsnapshotted_seconds + 1.5 * costs[-1] < budget:
        before = venue.unsnapshotted_seconds
        clock.now += timedelta(seconds=STEP_S)
        venue.step(clock.now)
        if venue.unsnapshotted_seconds < before:
            steps = 0  # that step took a snapshot: the tail starts again
            continue
        costs.append(venue.unsnapshotted_seconds - before)
        steps += 1
    return steps, sum(costs) / len(costs)


def run(report=print) -> dict:
    rng = random.Random(20250602)
    prices = {f"SYM{i:02d}": Decimal(rng.randint(500, 90_000)) / 100 for i in range(SYMBOLS)}
    specs = reference_specs(prices)
    with tempfile.TemporaryDirectory(prefix="tradex-venue-restart-") as directory:
        config = default_venues(1, symbols=list(specs), journal_dir=directory, walk_anchor=OPEN)[0]
        if SMOKE:  # a small day: snapshot sooner, so the smoke run goes through snapshot and tail too
            config = replace(config, snapshot_replay_budget_s=0.1)
        clock = Clock()
        venue = Venue(config, specs, clock=clock)
        started = time.perf_counter()
        trade_the_day(venue, clock, rng)
        day_s = time.perf_counter() - started
        if SMOKE and not venue.snapshot_stats:
            # The budget is time spent applying records: a machine fast enough never reaches it on
            # the small day, and the run must still restart from a snapshot and a tail.
            venue.snapshot()
        step_bytes_now = _bytes_of_one_step(venue, clock)
        step_bytes_before = old_format_step_bytes(venue, clock.now)
        tail_steps, step_apply_s = fill_the_tail(venue, clock)
        journal = Path(directory)
        state = venue.state()
        snapshots = dict(venue.snapshot_stats)
        venue.close(snapshot=False)  # the process dies: no shutdown snapshot
        files = sorted(p for p in journal.iterdir() if p.name.startswith(config.name))
        on_disk = sum(p.stat().st_size for p in files)
        snapshot = journal / f"{config.name}.snapshot"
        tail_bytes = sum(p.stat().st_size for p in files if ".journal" in p.name)

        started, cpu = time.perf_counter(), time.process_time()
        restarted = Venue(config, specs, clock=clock)
        restart_s, restart_cpu_s = time.perf_counter() - started, time.process_time() - cpu
        exact = restarted.state() == state
        restarted.close(snapshot=False)

        started, cpu = time.perf_counter(), time.process_time()
        raw = [p.read_bytes() for p in files]
        read_s = time.perf_counter() - started
        orjson.loads(snapshot.read_bytes())
        parse_s, parse_cpu_s = time.perf_counter() - started, time.process_time() - cpu

    result = {
        "symbols": SYMBOLS, "orders": ORDERS, "restart_s": restart_s, "restart_cpu_s": restart_cpu_s,
        "read_parse_cpu_s": parse_cpu_s, "read_raw_s": read_s, "read_parse_s": parse_s,
        "exact": exact, "snapshot_bytes": len(raw[[p.name for p in files].index(snapshot.name)]),
        "tail_bytes": tail_bytes, "tail_steps": tail_steps, "on_disk_bytes": on_disk,
        "day_bytes_before": step_bytes_before * STEPS_PER_DAY, "day_bytes_now": step_bytes_now * STEPS_PER_DAY,
        "simulate_s": day_s,
    }
    report(f"Venue restart after a trading day ({SYMBOLS} symbols, {ORDERS} customer commands over 6.5 h, "
           f"{'smoke' if SMOKE else 'full'} mode; target < {TARGET_S:.0f} s)")
    report(f"  restart {restart_s:.2f} s ({restart_cpu_s:.2f} s CPU): snapshot {result['snapshot_bytes'] / 1e6:.1f} MB "
           f"+ tail of {tail_steps} steps, {tail_bytes / 1e3:.0f} kB | ceiling: read the files raw "
           f"{read_s * 1000:.0f} ms, + parse the snapshot {parse_s * 1000:.0f} ms ({parse_cpu_s * 1000:.0f} ms CPU) "
           f"| state after restart {'identical' if exact else 'DIFFERENT'}")
    if snapshots:
        per_day = STEPS_PER_DAY * step_apply_s / config.snapshot_replay_budget_s
        result["snapshot_bytes_per_day_max"] = per_day * snapshots["bytes"]
        report(f"  snapshots: one per {config.snapshot_replay_budget_s:g} s of replay, i.e. about {per_day:.0f} a day "
               f"at the makers' rate ({step_apply_s * 1000:.0f} ms a step); the last {snapshots['bytes'] / 1e6:.1f} MB, "
               f"{snapshots['locked_s'] * 1000:.0f} ms under the venue lock; at most "
               f"{result['snapshot_bytes_per_day_max'] / 1e9:.1f} GB of snapshots written a day")
    report(f"  journal per day at the makers' rate ({STEPS_PER_DAY} steps): before "
           f"{result['day_bytes_before'] / 1e9:.2f} GB, all replayed on restart; now "
           f"{result['day_bytes_now'] / 1e6:.0f} MB written, {on_disk / 1e6:.1f} MB on disk at the crash")
    return result


def _bytes_of_one_step(venue: Venue, clock: Clock) -> int:
    """Journal bytes of one step at the makers' rate (a step that snapshotted is not counted)."""
    while True:
        before = venue.journal_bytes
        clock.now += timedelta(seconds=STEP_S)
        venue.step(clock.now)
        if venue.journal_bytes > before:
            return venue.journal_bytes - before


if __name__ == "__main__":
    run()
