"""A venue's market-data publisher: sequenced binary frames (core.wire.feed_protocol) over TCP.

Every public quote and trade gets the next sequence number and goes to every subscriber. A
subscriber that cannot keep up is never waited for: its queue of frames is bounded, and frames
that do not fit are dropped for that subscriber alone and counted. It sees the gap in the
sequence and asks for a snapshot, which replaces whatever it had queued (the snapshot supersedes
it). Nothing here blocks the venue's matching thread on a socket.

Snapshot: the latest quote and the last trade of every symbol, as of the last sequence number
assigned, built under the same lock that assigns sequence numbers, so "as of N" is exact.
"""
from __future__ import annotations

import logging
import secrets
import socket
import threading
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from . import events as ev
from core.wire import feed_protocol as fp

log = logging.getLogger(__name__)

QUEUE_FRAMES = 4096  # per subscriber; beyond this its frames are dropped (it will see the gap)
HEARTBEAT_SECONDS = 1.0


@dataclass
class FeedCounters:
    published: int = 0        # records sequenced
    frames_dropped: int = 0   # frames not delivered to a slow subscriber (all subscribers)
    snapshots_served: int = 0
    subscribers: int = 0


@dataclass(eq=False)
class _Subscriber:
    sock: socket.socket
    address: tuple
    frames: deque = field(default_factory=deque)
    wake: threading.Condition = field(default_factory=threading.Condition)
    closed: bool = False


class FeedPublisher:
    def __init__(self, name: str, symbols: list[str], *, host: str = "127.0.0.1", port: int = 0,
                 queue_frames: int = QUEUE_FRAMES, first_seq: int = 1):
        self.name = name
        self.symbol_ids = {symbol: i + 1 for i, symbol in enumerate(sorted(symbols))}
        self.directory = {i: s for s, i in self.symbol_ids.items()}
        self.epoch = secrets.randbits(63)
        self.queue_frames = queue_frames
        self.counters = FeedCounters()
        self._lock = threading.Lock()  # sequence numbers, last values, subscriber list
        # A restarted venue passes its journaled public sequence + 1: the feed's numbers then keep
        # rising across restarts (at most one feed record per public event), so (venue, seq)
        # names one tick for ever, in the tick store and in the bars' replay cursor.
        self._next_seq = first_seq
        size = len(self.symbol_ids) + 1
        self._last_quote = np.zeros(size, dtype=fp.RECORD)
        self._last_trade = np.zeros(size, dtype=fp.RECORD)
        self._subscribers: list[_Subscriber] = []
        self._server = socket.create_server((host, port), backlog=64, reuse_port=False)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self.subscribed = threading.Event()  # set once the first subscriber has its snapshot queued
        self._threads = [threading.Thread(target=self._accept_loop, name=f"{name}-feed-accept", daemon=True),
                         threading.Thread(target=self._heartbeat_loop, name=f"{name}-feed-hb", daemon=True)]

    @property
    def last_seq(self) -> int:
        """The last sequence number assigned (0 before the first record)."""
        with self._lock:
            return self._next_seq - 1

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FeedPublisher:
        for thread in self._threads:
            thread.start()
        log.info("%s: market-data feed on port %d (%d symbols)", self.name, self.port, len(self.symbol_ids))
        return self

    def stop(self) -> None:
        self._stop.set()
        try:
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the accept(); close() alone would not
        except OSError:
            pass
        self._server.close()
        self._threads[0].join(timeout=5)
        with self._lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            self._drop(sub)

    # ------------------------------------------------------------------ publishing

    def publish(self, events) -> None:
        """Venue public events -> one DATA frame of quotes and trades (halts are not feed records)."""
        rows = [r for r in (self._record(e) for e in events) if r is not None]
        if rows:
            self.publish_records(np.array(rows, dtype=fp.RECORD))

    def publish_records(self, records: np.ndarray) -> None:
        """Sequence `records` (RECORD array; seq is overwritten) and queue them for every subscriber."""
        if not len(records):
            return
        records = records.copy()
        with self._lock:
            first = self._next_seq
            records["seq"] = np.arange(first, first + len(records), dtype=np.uint64)
            self._next_seq += len(records)
            self.counters.published += len(records)
            self._remember(records)
            payload = fp.data_frame(records)
            subscribers = list(self._subscribers)
        for sub in subscribers:
            self._enqueue(sub, payload)

    def _record(self, event) -> tuple | None:
        symbol_id = self.symbol_ids.get(getattr(event, "symbol", None))
        if symbol_id is None:
            return None
        ts_ns = _ns(event.ts)
        if isinstance(event, ev.Quote):
            return (0, ts_ns, symbol_id, fp.QUOTE, 0, 0, fp.scaled(event.bid), fp.scaled(event.bid_size),
                    fp.scaled(event.ask), fp.scaled(event.ask_size))
        if isinstance(event, ev.Trade):
            return (0, ts_ns, symbol_id, fp.TRADE, 0, 0, fp.scaled(event.price), fp.scaled(event.qty), 0, 0)
        return None

    def _remember(self, records: np.ndarray) -> None:
        """Keep each symbol's latest quote and trade for snapshots. Caller holds the lock."""
        for kind, table in ((fp.QUOTE, self._last_quote), (fp.TRADE, self._last_trade)):
            of_kind = records[records["kind"] == kind]
            if len(of_kind):
                # the last record per symbol: unique over the reversed array finds last occurrences
                ids, idx = np.unique(of_kind["symbol_id"][::-1], return_index=True)
                table[ids] = of_kind[::-1][idx]

    def snapshot(self) -> bytes:
        with self._lock:
            return self._snapshot_locked()

    def _snapshot_locked(self) -> bytes:
        as_of = self._next_seq - 1
        records = np.concatenate([self._last_quote[self._last_quote["kind"] == fp.QUOTE],
                                  self._last_trade[self._last_trade["kind"] == fp.TRADE]])
        records["seq"] = as_of
        self.counters.snapshots_served += 1
        return fp.snapshot_frame(records, as_of=as_of)

    # ------------------------------------------------------------------ subscribers

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, address = self._server.accept()
            except OSError:
                return  # closed by stop()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sub = _Subscriber(conn, address)
            # directory, then snapshot, then live: registered under the lock so that no frame
            # sequenced after the snapshot's as-of can be missed or precede it
            with self._lock:
                sub.frames.append(fp.directory_frame(self.directory, epoch=self.epoch))
                sub.frames.append(self._snapshot_locked())
                self._subscribers.append(sub)
                self.counters.subscribers = len(self._subscribers)
            self.subscribed.set()
            threading.Thread(target=self._writer, args=(sub,), name=f"{self.name}-feed-w", daemon=True).start()
            threading.Thread(target=self._reader, args=(sub,), name=f"{self.name}-feed-r", daemon=True).start()

    def _enqueue(self, sub: _Subscriber, payload: bytes) -> None:
        with sub.wake:
            if len(sub.frames) >= self.queue_frames:
                self.counters.frames_dropped += 1
                return
            sub.frames.append(payload)
            sub.wake.notify()

    def _writer(self, sub: _Subscriber) -> None:
        while True:
            with sub.wake:
                while not sub.frames and not sub.closed:
                    sub.wake.wait()
                if sub.closed:
                    return
                batch = b"".join(sub.frames)
                sub.frames.clear()
            try:
                sub.sock.sendall(batch)
            except OSError:
                self._drop(sub)
                return

    def _reader(self, sub: _Subscriber) -> None:
        """Requests from the subscriber: snapshot. Anything else closes its connection."""
        buf = b""
        while True:
            try:
                chunk = sub.sock.recv(4096)
            except OSError:
                chunk = b""
            if not chunk:
                self._drop(sub)
                return
            buf += chunk
            while len(buf) >= fp.REQUEST.size:
                command, _held = fp.REQUEST.unpack_from(buf)
                buf = buf[fp.REQUEST.size:]
                if command != fp.REQUEST_SNAPSHOT:
                    log.warning("%s: feed subscriber %s sent %r; closing it", self.name, sub.address, command)
                    self._drop(sub)
                    return
                snapshot = self.snapshot()
                with sub.wake:
                    sub.frames.clear()  # superseded by the snapshot
                    sub.frames.append(snapshot)
                    sub.wake.notify()

    def _drop(self, sub: _Subscriber) -> None:
        with self._lock:
            if sub in self._subscribers:
                self._subscribers.remove(sub)
            self.counters.subscribers = len(self._subscribers)
        with sub.wake:
            sub.closed = True
            sub.wake.notify()
        try:
            sub.sock.shutdown(socket.SHUT_RDWR)  # wakes our reader's recv and sends the FIN now
        except OSError:
            pass
        sub.sock.close()

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            with self._lock:
                payload = fp.heartbeat_frame(self._next_seq)
                subscribers = list(self._subscribers)
            for sub in subscribers:
                self._enqueue(sub, payload)


def _ns(ts) -> int:
    return int(ts.timestamp()) * 1_000_000_000 + ts.microsecond * 1000
