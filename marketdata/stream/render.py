"""Alpaca stock-data messages from the feed's contract (marketdata.groups), in the two encodings of
the stream: JSON (text frames) and MessagePack (what alpaca-py asks for).

The contract carries prices and sizes as decimal strings. JSON: they are written as JSON numbers
digit for digit ("187.1200" -> 187.1200), never through a float, so a JSON client that parses
numbers as decimals gets the exact value. MessagePack: Alpaca's own servers send float64 prices
and integer sizes, and alpaca-py's models hold floats, so that is what is sent (an integral size
as an int, a fractional one as a float); timestamps are MessagePack Timestamp extensions, which
alpaca-py turns into datetimes with `.to_datetime()` (nanoseconds kept in the ext). JSON
timestamps are the contract's RFC 3339 strings, unchanged.

Each message is rendered once per process and encoding (the fan-out hub shares the bytes among
all its connections); a frame is an array of rendered pieces joined without re-encoding.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import msgpack
import orjson

# Fields that are numbers in Alpaca's messages; in the contract they may be decimal strings.
PRICE_FIELDS = frozenset({"bp", "ap", "p", "o", "h", "l", "c", "vw"})
SIZE_FIELDS = frozenset({"bs", "as", "s", "v", "n", "i"})
_NUMERIC = {"q": {"bp", "bs", "ap", "as"}, "t": {"p", "s", "i"}, "b": {"o", "h", "l", "c", "v", "n", "vw"},
            "i": set()}  # TradeX's indicator messages keep their values as exact decimal strings
# A JSON number (RFC 8259), which every finite Decimal's str() is.
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)")
_EPOCH = datetime(1970, 1, 1)
_SECOND = timedelta(seconds=1)


class BadMessage(ValueError):
    """A feed message that breaks the contract: it is dropped (and logged) rather than sent."""


def json_piece(kind: str, fields: dict) -> bytes:
    numeric = _NUMERIC[kind]
    parts = []
    for key, value in fields.items():
        if key in numeric and isinstance(value, str):
            if not _JSON_NUMBER.fullmatch(value):
                raise BadMessage(f"{kind}.{key}={value!r} is not a decimal number")
            rendered = value.encode()
        else:
            rendered = orjson.dumps(value)
        parts.append(orjson.dumps(key) + b":" + rendered)
    return b"{" + b",".join(parts) + b"}"


def msgpack_piece(kind: str, fields: dict) -> bytes:
    numeric = _NUMERIC[kind]
    out = {}
    for key, value in fields.items():
        if key in numeric and isinstance(value, str):
            if not _JSON_NUMBER.fullmatch(value):
                raise BadMessage(f"{kind}.{key}={value!r} is not a decimal number")
            if key in PRICE_FIELDS:
                value = float(value)
            else:
                value = int(value) if value.lstrip("-").isdigit() else float(value)
        elif key == "t" and isinstance(value, str):
            value = timestamp(value)
        out[key] = value
    return msgpack.packb(out, use_bin_type=True)


def timestamp(text: str) -> msgpack.Timestamp:
    """RFC 3339 (UTC "Z" or an offset, up to nanoseconds) -> MessagePack Timestamp, exactly."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise BadMessage(f"t={text!r} is not an RFC 3339 timestamp")
    base, fraction, zone = match.groups()
    seconds = (datetime.fromisoformat(base) - _EPOCH) // _SECOND
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    nanoseconds = int((fraction or "0").ljust(9, "0"))
    return msgpack.Timestamp(seconds, nanoseconds)


def json_frame(pieces: list[bytes]) -> str:
    return (b"[" + b",".join(pieces) + b"]").decode()


def msgpack_frame(pieces: list[bytes]) -> bytes:
    packer = msgpack.Packer()
    return packer.pack_array_header(len(pieces)) + b"".join(pieces)


def control_frame(messages: list[dict], *, binary: bool):
    """Control messages ({"T": "success" | "error" | "subscription", ...}), as text or msgpack."""
    return msgpack.packb(messages, use_bin_type=True) if binary else orjson.dumps(messages).decode()


class Rendered:
    """One md.update, rendered lazily per encoding and shared by every connection of a process.
    `quote(enc)`: the piece or None; `trades(enc)` / `bars(enc)`: lists of pieces."""

    __slots__ = ("symbol", "_q", "_i", "_lists", "_cache")

    def __init__(self, message: dict):
        self.symbol = message["symbol"]
        self._q = message.get("q")
        self._i = message.get("i")  # TradeX: streaming indicators after a closed bar
        bars = message.get("b") or ()
        # "b" carries closed bars ("T": "b") and corrections of them ("T": "u", Alpaca's updatedBars).
        self._lists = {"t": message.get("t") or (), "b": [b for b in bars if b.get("T") != "u"],
                       "u": [b for b in bars if b.get("T") == "u"]}
        self._cache: dict = {}

    def _render(self, what: str, binary: bool):
        key = (what, binary)
        if key not in self._cache:
            piece = msgpack_piece if binary else json_piece
            if what == "q":
                self._cache[key] = piece("q", self._q) if self._q else None
            elif what == "i":
                self._cache[key] = [piece("i", self._i)] if self._i else []
            else:
                kind = "t" if what == "t" else "b"
                self._cache[key] = [piece(kind, fields) for fields in self._lists[what]]
        return self._cache[key]

    def quote(self, binary: bool):
        return self._render("q", binary)

    def trades(self, binary: bool) -> list[bytes]:
        return self._render("t", binary)

    def bars(self, binary: bool) -> list[bytes]:
        return self._render("b", binary)

    def updated_bars(self, binary: bool) -> list[bytes]:
        return self._render("u", binary)

    def indicators(self, binary: bool) -> list[bytes]:
        return self._render("i", binary)

    @property
    def has_indicators(self) -> bool:
        return bool(self._i)

    @property
    def has_quote(self) -> bool:
        return bool(self._q)

    @property
    def has_trades(self) -> bool:
        return bool(self._lists["t"])

    @property
    def has_bars(self) -> bool:
        return bool(self._lists["b"])

    @property
    def has_updated_bars(self) -> bool:
        return bool(self._lists["u"])
