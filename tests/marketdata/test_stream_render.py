"""Rendering the feed's contract (decimal strings, RFC 3339 times) as Alpaca's stream messages:
JSON numbers digit for digit, MessagePack floats and Timestamps, nothing malformed passed on."""
import json
from decimal import Decimal

import msgpack
import pytest

from marketdata.stream.consumer import Outbox
from marketdata.stream.render import BadMessage, Rendered, json_frame, json_piece, msgpack_frame, msgpack_piece, \
    timestamp

QUOTE = {"T": "q", "S": "BRK.B", "bx": "V", "bp": "412.0100", "bs": "3", "ax": "Q", "ap": "0.0001", "as": "2.5",
         "t": "2026-12-02T14:30:00.000000001Z", "c": ["R"], "z": "B"}


@pytest.mark.parametrize("value", ["412.0100", "0.0001", "1E+3", "-0.5", "123456789012345678901234567890.123456789"])
def test_json_prices_are_the_decimal_strings_digits(value):
    piece = json_piece("q", {**QUOTE, "bp": value})
    assert f'"bp":{value}'.encode() in piece
    assert json.loads(piece, parse_float=Decimal)["bp"] == Decimal(value)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1.", ".5", "+1", "1,5", "1 ", '1,"x":"y"'])
def test_a_price_that_is_no_json_number_is_refused_not_sent(value):
    with pytest.raises(BadMessage):
        json_piece("q", {**QUOTE, "bp": value})
    with pytest.raises(BadMessage):
        msgpack_piece("q", {**QUOTE, "bp": value})


def test_msgpack_prices_are_floats_sizes_ints_times_timestamps():
    q = msgpack.unpackb(msgpack_piece("q", QUOTE))
    assert (q["bp"], q["ap"], q["bs"], q["as"]) == (412.01, 0.0001, 3, 2.5)
    assert type(q["bs"]) is int and type(q["as"]) is float
    assert q["t"] == msgpack.Timestamp(1796221800, 1)
    assert (q["S"], q["c"], q["z"]) == ("BRK.B", ["R"], "B")


@pytest.mark.parametrize("text, expected", [
    ("2026-12-02T14:30:00Z", (1796221800, 0)),
    ("2026-12-02T14:30:00.5Z", (1796221800, 500_000_000)),
    ("2026-12-02T14:30:00.123456789Z", (1796221800, 123_456_789)),
    ("2026-12-02T09:30:00.25-05:00", (1796221800, 250_000_000)),
    ("1970-01-01T00:00:00Z", (0, 0)),
])
def test_rfc3339_times_become_exact_msgpack_timestamps(text, expected):
    assert timestamp(text) == msgpack.Timestamp(*expected)


@pytest.mark.parametrize("text", ["2026-12-02 14:30:00Z", "2026-12-02T14:30:00", "2026-12-02T14:30:00.1234567890Z"])
def test_malformed_times_are_refused(text):
    with pytest.raises(BadMessage):
        timestamp(text)


def test_frames_join_pieces_without_reencoding():
    update = {"type": "md.update", "symbol": "AAPL", "sent_ns": 1, "q": {**QUOTE, "S": "AAPL"},
              "t": [{"T": "t", "S": "AAPL", "i": 5, "x": "V", "p": "1.10", "s": "7", "t": "2026-12-02T14:30:00Z",
                     "c": ["@"], "z": "C"}], "b": []}
    rendered = Rendered(update)
    text = json_frame(rendered.trades(False) + [rendered.quote(False)])
    t, q = json.loads(text, parse_float=Decimal)
    assert (t["p"], q["bp"]) == (Decimal("1.10"), Decimal("412.0100"))
    t, q = msgpack.unpackb(msgpack_frame(rendered.trades(True) + [rendered.quote(True)]))
    assert (t["i"], t["p"], q["T"]) == (5, 1.1, "q")
    assert rendered.trades(False) is rendered.trades(False)  # rendered once, shared by every connection


def test_the_outbox_keeps_the_latest_quote_per_symbol_and_bounds_trades():
    box = Outbox(max_pending=3)
    for i in range(5):
        box.quote("AAPL", f"q{i}".encode())
    box.quote("MSFT", b"m")
    assert box.extend([b"t1", b"t2"]) == 0
    assert box.extend([b"t3", b"t4", b"t5"]) == 2  # the two oldest go
    assert (box.conflated, box.dropped) == (4, 2)
    assert box.take(10**6) == [b"t3", b"t4", b"t5", b"q4", b"m"]
    assert not box
