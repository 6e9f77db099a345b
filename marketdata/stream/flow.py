"""Is the client's socket keeping up? Twisted's answer, under daphne.

An ASGI `websocket.send` never waits: daphne hands the frame to Twisted, whose transport buffers
whatever the kernel will not take, without bound (daphne issue #170). What Twisted does offer is
the producer protocol: a streaming producer registered on a transport is told pauseProducing()
when the transport's buffer passes its bufferSize (64 KiB), i.e. once the kernel's send buffer is
full too, and resumeProducing() when it has drained. So the stream registers one per connection
and stops writing while paused; what arrives meanwhile is conflated (marketdata.stream.outbox).

The transport already has a producer (daphne's HTTPChannel, from before the upgrade); ours
forwards every call to it, so daphne behaves as before.

Reaching the transport relies on daphne passing the application `partial(server.handle_reply,
protocol)` as its ASGI send (daphne 4), beneath channels' session wrapper. Under any other server, or channels' test communicator,
`watch()` returns None and the stream sends without flow control (documented).
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def unwrap(send):
    """The server's own ASGI send beneath channels' SessionMiddleware, which wraps it (for cookies
    on HTTP responses; a websocket.send passes through it unchanged)."""
    while hasattr(getattr(send, "__self__", None), "real_send"):
        send = send.__self__.real_send
    return send


def daphne_protocol(send):
    """daphne's WebSocketProtocol behind an ASGI send callable, or None."""
    send = unwrap(send)
    if not isinstance(send, functools.partial) or not send.args:
        return None
    try:
        # Only under daphne: other ASGI servers (tests' in-memory communicator) have no protocol.
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # pragma: no cover - daphne is a dependency
        return None
    protocol = send.args[0]
    return protocol if isinstance(protocol, WebSocketProtocol) else None


class Flow:
    """A streaming producer on one connection's transport: `paused` while the socket is full;
    on_pause / on_resume called on the event loop (Twisted runs on daphne's asyncio loop)."""

    def __init__(self, protocol, *, on_pause: Callable[[], None], on_resume: Callable[[], None]):
        self.protocol = protocol
        self.transport = protocol.transport
        self.paused = False
        self._on_pause, self._on_resume = on_pause, on_resume
        self._previous = self.transport.producer
        self._previous_streaming = getattr(self.transport, "streamingProducer", True)
        if self._previous is not None:
            self.transport.unregisterProducer()
        self.transport.registerProducer(self, True)

    # IPushProducer, called by the transport. Twisted calls pauseProducing on every write made
    # while its buffer is over the limit, not only on the first: act on the transitions only.
    def pauseProducing(self):
        if self.paused:
            return
        self.paused = True
        if self._previous is not None and self._previous_streaming:
            self._previous.pauseProducing()
        self._on_pause()

    def resumeProducing(self):
        if not self.paused:
            return
        self.paused = False
        if self._previous is not None:
            self._previous.resumeProducing()
        self._on_resume()

    def stopProducing(self):
        if self._previous is not None:
            self._previous.stopProducing()

    def buffered_bytes(self) -> int:
        """What Twisted holds for this connection beyond the kernel's buffer (for the bench)."""
        t = self.transport
        return len(getattr(t, "dataBuffer", b"")) - getattr(t, "offset", 0) + getattr(t, "_tempDataLen", 0)

    def abort(self):
        """Drop the TCP connection at once (buffered data is discarded)."""
        abort = getattr(self.transport, "abortConnection", None)
        (abort or self.transport.loseConnection)()


def watch(send, *, on_pause, on_resume, max_message_bytes: int | None = None) -> Flow | None:
    protocol = daphne_protocol(send)
    if protocol is None or getattr(protocol, "transport", None) is None:
        return None
    if max_message_bytes:
        # autobahn assembles a whole message before daphne sees it; without a cap a client could
        # make this process buffer any amount. Past it autobahn fails the connection (1009). The
        # cap applies to messages sent too, so it must exceed the stream's largest frame.
        protocol.maxMessagePayloadSize = max_message_bytes
    try:
        return Flow(protocol, on_pause=on_pause, on_resume=on_resume)
    except Exception:  # an unexpected transport: serve without flow control rather than not at all
        log.exception("stream: no flow control for %r", protocol)
        return None
