"""Client frames of TradeX's WebSocket streams (the trade-updates stream, orders.consumers, and the
market-data stream, marketdata.stream): one decoder, one set of close codes.

A frame is a JSON object in a text frame, or a JSON or MessagePack object in a binary frame (a
binary frame whose first non-blank byte is "{" is JSON, as Alpaca's clients send it; anything else
binary is MessagePack, as alpaca-py sends it). Whatever is not such an object, or is larger than
the stream's limit, raises BadFrame: the consumer answers with its protocol's error frame and
closes that connection only.
"""
import json

import msgpack

# WebSocket close codes: RFC 6455's meaning in the private range 4000-4999 (4000 + the RFC code),
# because daphne's WebSocket layer (autobahn) sends only 1000 and 3000-4999: a 1008 from a
# consumer raises inside daphne and reaches the client as 1011 (tests/api/test_trade_stream.py).
CLOSE_POLICY = 4008  # failed authentication, or a client the server will not serve
CLOSE_UNSUPPORTED = 4003  # not a frame of this protocol
CLOSE_TOO_BIG = 4009

TEXT, JSON_BINARY, MSGPACK = "text", "json", "msgpack"


class BadFrame(Exception):
    def __init__(self, code: str, message: str, close_code: int = CLOSE_UNSUPPORTED):
        super().__init__(message)
        self.code, self.close_code = code, close_code


def decode_frame(text_data, bytes_data, *, max_bytes: int) -> tuple[dict, str]:
    """The frame's object and its encoding (TEXT, JSON_BINARY or MSGPACK), or BadFrame with code
    "frame_too_large" (close 1009) or "invalid_frame" (close 1003)."""
    if text_data is not None:
        raw, encoding = text_data.encode(errors="replace"), TEXT
    else:
        raw = bytes_data or b""
        encoding = JSON_BINARY if raw.lstrip()[:1] == b"{" else MSGPACK
    if len(raw) > max_bytes:
        raise BadFrame("frame_too_large", f"frames are limited to {max_bytes} bytes", CLOSE_TOO_BIG)
    try:
        if encoding == MSGPACK:
            frame = msgpack.unpackb(raw, raw=False, strict_map_key=True)
        else:
            frame = json.loads(raw)
    except Exception:  # whatever the decoder makes of garbage
        raise BadFrame("invalid_frame", "frame is not valid JSON or MessagePack") from None
    if not isinstance(frame, dict):
        raise BadFrame("invalid_frame", "frame must be an object")
    return frame, encoding
