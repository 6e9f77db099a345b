"""Conflating hand-off from the feed handler to the channel layer.

The handler offers one update per symbol per batch and returns at once. Updates wait in a map
keyed by symbol; a newer offer for a symbol still waiting replaces its quote (the latest is what
a screen needs), appends its trades (bounded: the oldest beyond MAX_TRADES are dropped and
counted) and bars. One sender task, on the process's publishing loop (core.realtime), drains the
map as fast as the layer takes messages, so a slow layer (or a burst) turns into conflation, never into a growing queue or a
blocked handler.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass

from channels.layers import get_channel_layer

from core import realtime
from marketdata.groups import symbol_group

log = logging.getLogger(__name__)

_SENDERS: set[asyncio.Task] = set()  # running sender tasks (see _run)

MAX_TRADES = 200      # per symbol waiting to be sent
SEND_CONCURRENCY = 64  # group_sends in flight at once


@dataclass
class PublishCounters:
    offered: int = 0      # symbol updates offered
    sent: int = 0         # messages handed to the channel layer
    conflated: int = 0    # updates merged into one still waiting
    trades_dropped: int = 0
    errors: int = 0


class ConflatingPublisher:
    def __init__(self, layer=None):
        self._layer = layer
        self._pending: dict[str, dict] = {}
        self._lock = threading.Lock()
        self.counters = PublishCounters()
        self._loop = realtime.publisher.loop()
        self._wake: asyncio.Event | None = None
        self._ready = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._task = asyncio.run_coroutine_threadsafe(self._run(), self._loop)
        self._ready.wait(5)

    def offer(self, updates: dict[str, dict]) -> None:
        """{symbol: {"q": dict | None, "t": [dict], "b": [dict], "i": dict | None}}: never blocks."""
        if not updates:
            return
        with self._lock:
            self.counters.offered += len(updates)
            for symbol, update in updates.items():
                waiting = self._pending.get(symbol)
                if waiting is None:
                    self._pending[symbol] = {"q": update.get("q"), "t": list(update.get("t") or ()),
                                             "b": list(update.get("b") or ()), "i": update.get("i")}
                    continue
                self.counters.conflated += 1
                if update.get("q") is not None:
                    waiting["q"] = update["q"]
                if update.get("i") is not None:
                    waiting["i"] = update["i"]
                waiting["t"].extend(update.get("t") or ())
                waiting["b"].extend(update.get("b") or ())
                if len(waiting["t"]) > MAX_TRADES:
                    self.counters.trades_dropped += len(waiting["t"]) - MAX_TRADES
                    del waiting["t"][:-MAX_TRADES]
            self._idle.clear()
        self._loop.call_soon_threadsafe(self._wake.set)

    def wait_idle(self, timeout: float) -> bool:
        """True once everything offered so far has been handed to the layer (tests, shutdown)."""
        return self._idle.wait(timeout)

    def stop(self) -> None:
        """End the sender task (the loop is shared and keeps running)."""
        self._task.cancel()

    async def _run(self) -> None:
        # The loop holds its tasks weakly: a sender must live until stop(), even when nothing else
        # refers to it.
        task = asyncio.current_task()
        _SENDERS.add(task)
        try:
            self._wake = asyncio.Event()
            self._ready.set()
            await self._sender()
        finally:
            _SENDERS.discard(task)

    async def _sender(self) -> None:
        layer = self._layer or get_channel_layer()
        limit = asyncio.Semaphore(SEND_CONCURRENCY)

        async def send(symbol: str, update: dict) -> None:
            message = {"type": "md.update", "symbol": symbol, "sent_ns": time.time_ns(), **update}
            async with limit:
                try:
                    await layer.group_send(symbol_group(symbol), message)
                    self.counters.sent += 1
                except Exception:
                    self.counters.errors += 1
                    log.exception("market data for %s not published", symbol)

        while True:
            await self._wake.wait()
            self._wake.clear()
            with self._lock:
                batch, self._pending = self._pending, {}
            if batch:
                await asyncio.gather(*(send(s, u) for s, u in batch.items()))
            with self._lock:
                if not self._pending:
                    self._idle.set()
