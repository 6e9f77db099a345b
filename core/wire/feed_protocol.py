"""The venue market-data feed's wire format: binary, sequenced, fixed-size records in framed batches.

Shared by the publisher (exchange_sim.feed) and the broker's feed handler (marketdata.feed); plain
numpy and struct, no Django. Little-endian throughout.

A frame is a 20-byte header followed by `length` bytes of body:

    magic u16 = 0x5854 ("TX")   version u8   kind u8   length u32   count u32   first_seq u64

kinds:
    DATA       `count` RECORDs, each carrying its own seq (contiguous within a venue's stream)
    SNAPSHOT   `count` RECORDs: the venue's current top of book and last trade per symbol, as of
               sequence `first_seq` (the records' seq is that as-of value); live DATA continues at
               first_seq + 1
    DIRECTORY  `count` DIRECTORY_ENTRY (symbol id -> symbol), sent once at connect, before the
               first snapshot; `first_seq` carries the venue's stream epoch (new on every
               publisher start, so a reset sequence is never mistaken for a continuation)
    HEARTBEAT  no body; `first_seq` is the next seq the venue will use (a quiet venue still
               reveals a gap)

A client sends 9-byte requests: b"S" + u64 (snapshot, please; the u64 is informational: the last
seq the client holds).

Prices and sizes are integers in millionths (PRICE_SCALE): exact, and fixed width so a batch
decodes with one numpy call. `ts_ns` is the exchange timestamp, nanoseconds since the Unix epoch,
UTC. A quote with an empty side has price 0 and size 0 on that side.
"""
from __future__ import annotations

import struct
from decimal import Decimal

import numpy as np

MAGIC = 0x5854
VERSION = 1
HEADER = struct.Struct("<HBBIIQ")
HEADER_SIZE = HEADER.size  # 20
MAX_BODY = 8 * 1024 * 1024  # a frame claiming more is malformed, not a reason to allocate

KIND_DATA, KIND_SNAPSHOT, KIND_DIRECTORY, KIND_HEARTBEAT = 1, 2, 3, 4
KINDS = frozenset({KIND_DATA, KIND_SNAPSHOT, KIND_DIRECTORY, KIND_HEARTBEAT})

QUOTE, TRADE = ord("Q"), ord("T")
PRICE_SCALE = 1_000_000

# One record: a quote uses bid/ask fields; a trade puts its price in `px` (the bid slot) and its
# size in `sz`, leaving the ask fields 0.
RECORD = np.dtype([
    ("seq", "<u8"), ("ts_ns", "<i8"), ("symbol_id", "<u4"), ("kind", "u1"), ("flags", "u1"), ("pad", "<u2"),
    ("px", "<i8"), ("sz", "<i8"), ("ask", "<i8"), ("ask_sz", "<i8"),
])
RECORD_SIZE = RECORD.itemsize  # 56
DIRECTORY_ENTRY = np.dtype([("symbol_id", "<u4"), ("symbol", "S16")])

REQUEST = struct.Struct("<cQ")
REQUEST_SNAPSHOT = b"S"


def scaled(value: Decimal | None) -> int:
    """Decimal -> integer millionths (exact for prices on a tick of 0.000001 or coarser)."""
    if value is None:
        return 0
    if not isinstance(value, Decimal):
        raise TypeError(f"feed prices and sizes are Decimal, got {type(value).__name__}")
    return int(value.scaleb(6).to_integral_exact())


def unscaled(value: int) -> Decimal:
    return Decimal(int(value)).scaleb(-6).normalize() if value else Decimal(0)


def frame(kind: int, body: bytes, *, count: int, first_seq: int) -> bytes:
    return HEADER.pack(MAGIC, VERSION, kind, len(body), count, first_seq) + body


def data_frame(records: np.ndarray) -> bytes:
    first = int(records["seq"][0]) if len(records) else 0
    return frame(KIND_DATA, records.tobytes(), count=len(records), first_seq=first)


def snapshot_frame(records: np.ndarray, *, as_of: int) -> bytes:
    return frame(KIND_SNAPSHOT, records.tobytes(), count=len(records), first_seq=as_of)


def directory_frame(symbols: dict[int, str], *, epoch: int) -> bytes:
    entries = np.zeros(len(symbols), dtype=DIRECTORY_ENTRY)
    for i, (symbol_id, symbol) in enumerate(sorted(symbols.items())):
        entries[i] = (symbol_id, symbol.encode("ascii"))
    return frame(KIND_DIRECTORY, entries.tobytes(), count=len(entries), first_seq=epoch)


def heartbeat_frame(next_seq: int) -> bytes:
    return frame(KIND_HEARTBEAT, b"", count=0, first_seq=next_seq)


class MalformedFrame(ValueError):
    """The stream cannot be trusted past this point (bad magic, version or length)."""


def parse_header(buf: bytes | memoryview) -> tuple[int, int, int, int]:
    """(kind, length, count, first_seq); raises MalformedFrame when the header is not a frame's."""
    magic, version, kind, length, count, first_seq = HEADER.unpack(buf)
    if magic != MAGIC or version != VERSION:
        raise MalformedFrame(f"bad magic/version {magic:#x}/{version}")
    if length > MAX_BODY:
        raise MalformedFrame(f"frame body of {length} bytes exceeds {MAX_BODY}")
    return kind, length, count, first_seq


def body_records(body: bytes, count: int) -> np.ndarray | None:
    """The records of a DATA or SNAPSHOT body, or None when the body does not hold `count` of them."""
    if len(body) != count * RECORD_SIZE:
        return None
    return np.frombuffer(body, dtype=RECORD)


def body_directory(body: bytes, count: int) -> dict[int, str] | None:
    if len(body) != count * DIRECTORY_ENTRY.itemsize:
        return None
    entries = np.frombuffer(body, dtype=DIRECTORY_ENTRY)
    try:
        return {int(e["symbol_id"]): e["symbol"].decode("ascii") for e in entries}
    except UnicodeDecodeError:
        return None
