"""One venue's feed connection: frames in, checked and sequenced records out.

The reader thread turns the byte stream into frames (core.wire.feed_protocol) and keeps the
venue's sequence: records arrive contiguous, or the client says so. A gap (frames the venue
dropped for us, a malformed frame skipped, a heartbeat announcing records we never saw) is
counted and recovered by asking for a snapshot; records that arrive before it are superseded by
it and counted as skipped. Nothing is lost silently: `received == delivered + duplicates +
malformed_records + skipped` in sequence terms, and `gaps` / `missed` say how much the venue
dropped before it reached us.

Records are handed to `sink(venue_index, records, snapshot)` with their symbol ids translated to
the handler's ids (the venue's directory comes first on every connection).
"""
from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.wire import feed_protocol as fp

log = logging.getLogger(__name__)

RECONNECT_MAX_SECONDS = 5.0


@dataclass
class ClientCounters:
    frames: int = 0
    received: int = 0            # records read from the wire (DATA frames)
    delivered: int = 0           # records handed to the sink (DATA)
    snapshot_records: int = 0    # records handed to the sink from snapshots
    duplicates: int = 0          # records with a seq already delivered
    skipped: int = 0             # records read while waiting for a snapshot (superseded by it)
    malformed_frames: int = 0
    malformed_records: int = 0
    gaps: int = 0
    missed: int = 0              # seq numbers that never reached us (sum of gap sizes)
    snapshots: int = 0
    connects: int = 0


Sink = Callable[[int, np.ndarray, bool], None]
Resolver = Callable[[dict[int, str]], dict[int, int]]


class VenueFeedClient:
    def __init__(self, index: int, name: str, host: str, port: int, *, sink: Sink, resolve: Resolver,
                 on_disconnect: Callable[[int], None] | None = None):
        self.index, self.name, self.host, self.port = index, name, host, port
        self.sink = sink
        self.resolve = resolve
        self.on_disconnect = on_disconnect
        self.counters = ClientCounters()
        self.connected = threading.Event()
        self.synced = threading.Event()  # a snapshot has been applied on the current connection
        self.progress = threading.Condition()  # notified after every frame (tests wait on counters)
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._lookup = np.zeros(1, dtype=np.uint32)  # venue symbol id -> handler id (0 = unknown)
        self._expected: int | None = None
        self._awaiting_snapshot = True
        self._epoch: int | None = None
        self._thread = threading.Thread(target=self._run, name=f"feed-{name}", daemon=True)

    def start(self) -> VenueFeedClient:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)

    # ------------------------------------------------------------------ connection

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2)
            except OSError:
                self._stop.wait(backoff)  # the venue is not up yet: retry, backing off
                backoff = min(backoff * 2, RECONNECT_MAX_SECONDS)
                continue
            backoff = 0.1
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            self._sock = sock
            self.counters.connects += 1
            self._awaiting_snapshot = True
            self.connected.set()
            try:
                self._read(sock)
            except (OSError, fp.MalformedFrame) as exc:
                if isinstance(exc, fp.MalformedFrame):
                    self.counters.malformed_frames += 1
                    log.warning("%s feed: %s; reconnecting", self.name, exc)
            finally:
                with self.progress:
                    self.progress.notify_all()
                self._sock = None
                self.connected.clear()
                self.synced.clear()
                try:
                    sock.close()
                except OSError:
                    pass
                if self.on_disconnect:
                    self.on_disconnect(self.index)

    def _read(self, sock: socket.socket) -> None:
        buf = bytearray()
        while not self._stop.is_set():
            chunk = sock.recv(1 << 20)
            if not chunk:
                return
            buf += chunk
            offset = 0
            while len(buf) - offset >= fp.HEADER_SIZE:
                kind, length, count, first_seq = fp.parse_header(memoryview(buf)[offset:offset + fp.HEADER_SIZE])
                end = offset + fp.HEADER_SIZE + length
                if len(buf) < end:
                    break
                self._frame(sock, kind, bytes(buf[offset + fp.HEADER_SIZE:end]), count, first_seq)
                offset = end
                with self.progress:
                    self.progress.notify_all()
            del buf[:offset]

    @property
    def last_seq(self) -> int:
        """The last sequence number applied (records or snapshot), 0 before the first snapshot."""
        return (self._expected or 1) - 1

    def wait_for(self, predicate, timeout: float = 10) -> bool:
        """Block until predicate(counters) holds (checked after every frame), or the timeout."""
        with self.progress:
            return self.progress.wait_for(lambda: predicate(self.counters), timeout)

    def request_snapshot(self, sock: socket.socket | None = None) -> None:
        sock = sock or self._sock
        self._awaiting_snapshot = True
        if sock is not None:
            sock.sendall(fp.REQUEST.pack(fp.REQUEST_SNAPSHOT, max((self._expected or 1) - 1, 0)))

    # ------------------------------------------------------------------ frames

    def _frame(self, sock, kind: int, body: bytes, count: int, first_seq: int) -> None:
        self.counters.frames += 1
        if kind == fp.KIND_DIRECTORY:
            directory = fp.body_directory(body, count)
            if directory is None:
                raise fp.MalformedFrame("unreadable directory")
            self._directory(directory, epoch=first_seq)
        elif kind == fp.KIND_SNAPSHOT:
            records = fp.body_records(body, count)
            if records is None:
                self.counters.malformed_frames += 1
                self.request_snapshot(sock)
                return
            records = self._checked(records)
            self.counters.snapshots += 1
            self.counters.snapshot_records += len(records)
            self._expected = first_seq + 1
            self._awaiting_snapshot = False
            self.sink(self.index, records, True)
            self.synced.set()
        elif kind == fp.KIND_DATA:
            records = fp.body_records(body, count)
            if records is None:
                # length was consistent with the header, so the stream is still framed: skip it;
                # its records are a gap that the next frame or heartbeat reveals
                self.counters.malformed_frames += 1
                return
            self._data(sock, records)
        elif kind == fp.KIND_HEARTBEAT:
            if not self._awaiting_snapshot and self._expected is not None and first_seq > self._expected:
                self._gap(sock, first_seq - self._expected)
        else:
            self.counters.malformed_frames += 1

    def _directory(self, directory: dict[int, str], *, epoch: int) -> None:
        mapping = self.resolve(directory)
        lookup = np.zeros(max(directory, default=0) + 1, dtype=np.uint32)
        for venue_id, handler_id in mapping.items():
            lookup[venue_id] = handler_id
        self._lookup = lookup
        if epoch != self._epoch:
            self._epoch = epoch
            self._expected = None  # a new stream: its numbering starts afresh

    def _data(self, sock, records: np.ndarray) -> None:
        n = len(records)
        self.counters.received += n
        if self._awaiting_snapshot or self._expected is None:
            self.counters.skipped += n
            return
        seqs = records["seq"].astype(np.int64)
        fresh = seqs >= self._expected
        if not fresh.all():
            self.counters.duplicates += int((~fresh).sum())
            records, seqs = records[fresh], seqs[fresh]
            if not len(records):
                return
        contiguous = seqs == self._expected + np.arange(len(seqs))
        if contiguous.all():
            good, rest = records, None
        else:
            cut = int(np.argmin(contiguous))
            good, rest = records[:cut], records[cut:]
        if len(good):
            self._expected += len(good)
            checked = self._checked(good)
            self.counters.delivered += len(checked)
            if len(checked):
                self.sink(self.index, checked, False)
        if rest is not None:
            self.counters.skipped += len(rest)
            self._gap(sock, int(rest["seq"][0]) - self._expected)

    def _gap(self, sock, missed: int) -> None:
        self.counters.gaps += 1
        self.counters.missed += missed
        log.warning("%s feed: gap of %d records after seq %d; requesting a snapshot",
                    self.name, missed, (self._expected or 1) - 1)
        self.request_snapshot(sock)

    def _checked(self, records: np.ndarray) -> np.ndarray:
        """Records with a known symbol, a known kind and no negative price or size, symbol ids
        translated; the rest counted as malformed and dropped."""
        ids = records["symbol_id"]
        known = ids < len(self._lookup)
        mapped = np.zeros(len(records), dtype=np.uint32)
        mapped[known] = self._lookup[ids[known]]
        ok = ((mapped > 0) & ((records["kind"] == fp.QUOTE) | (records["kind"] == fp.TRADE))
              & (records["px"] >= 0) & (records["sz"] >= 0) & (records["ask"] >= 0) & (records["ask_sz"] >= 0))
        if not ok.all():
            self.counters.malformed_records += int((~ok).sum())
        out = records[ok].copy()
        out["symbol_id"] = mapped[ok]
        return out
