"""Firehose mode: a synthetic venue feed at a fixed rate over many symbols, for stress runs.

No matching engine behind it: quotes (and a trade every `trade_every` records) from a vectorised
random walk, sequenced and published by a real FeedPublisher, so the feed handler sees exactly
what a busy venue sends. Pacing is by the clock: every `tick_s` it publishes the records due by
then, so the rate holds whatever each publish costs (up to what the machine can do).

    python -m exchange_sim.firehose --port 9900 --symbols 1000 --rate 100000 --seconds 30
"""
from __future__ import annotations

import argparse
import threading
import time

import numpy as np

from core.wire import feed_protocol as fp
from .feed import FeedPublisher


def firehose_symbols(count: int) -> list[str]:
    return [f"FH{i:04d}" for i in range(count)]


class Firehose:
    def __init__(self, publisher: FeedPublisher, *, rate: int, seed: int = 7, trade_every: int = 10,
                 tick_s: float = 0.005):
        self.publisher = publisher
        self.rate = rate
        self.tick_s = tick_s
        self.trade_every = trade_every
        self._rng = np.random.default_rng(seed)
        n = len(publisher.symbol_ids)
        self._ids = np.arange(1, n + 1, dtype=np.uint32)
        self._mid = self._rng.integers(10_00, 500_00, size=n + 1).astype(np.int64)  # cents
        self.sent = 0
        self._stop = threading.Event()

    def batch(self, n: int) -> np.ndarray:
        records = np.zeros(n, dtype=fp.RECORD)
        ids = self._rng.choice(self._ids, size=n)
        step = self._rng.integers(-1, 2, size=n)
        np.add.at(self._mid, ids, step)
        np.maximum(self._mid, 100, out=self._mid)
        mid = self._mid[ids]
        now = time.time_ns()
        records["ts_ns"] = now
        records["symbol_id"] = ids
        records["kind"] = fp.QUOTE
        records["px"] = (mid - 1) * 10_000           # cents -> millionths, bid one cent under
        records["ask"] = (mid + 1) * 10_000
        records["sz"] = self._rng.integers(1, 50, size=n) * 100 * fp.PRICE_SCALE
        records["ask_sz"] = self._rng.integers(1, 50, size=n) * 100 * fp.PRICE_SCALE
        trades = np.arange(n) % self.trade_every == self.trade_every - 1
        records["kind"][trades] = fp.TRADE
        records["px"][trades] = mid[trades] * 10_000
        records["sz"][trades] = 100 * fp.PRICE_SCALE
        records["ask"][trades] = 0
        records["ask_sz"][trades] = 0
        return records

    def run(self, seconds: float) -> int:
        """Publish at `rate` for `seconds` (or until stop()); returns the records sent."""
        start = time.monotonic()
        deadline = start + seconds
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= deadline:
                break
            due = int((now - start) * self.rate) - self.sent
            if due > 0:
                self.publisher.publish_records(self.batch(due))
                self.sent += due
            self._stop.wait(self.tick_s)  # pacing by the clock, not waiting for an event
        return self.sent

    def stop(self) -> None:
        self._stop.set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9900)
    parser.add_argument("--symbols", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--wait-subscriber", action="store_true", help="start once a subscriber is connected")
    args = parser.parse_args()
    publisher = FeedPublisher("FIREHOSE", firehose_symbols(args.symbols), host=args.host, port=args.port).start()
    print(f"firehose on port {publisher.port}", flush=True)
    if args.wait_subscriber:
        publisher.subscribed.wait()
    sent = Firehose(publisher, rate=args.rate).run(args.seconds)
    print(f"firehose sent {sent} records", flush=True)
    publisher.stop()


if __name__ == "__main__":
    main()
