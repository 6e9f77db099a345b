"""The WebSocket side of invariant 8: a socket whose consumer (or the session lookup before it)
hits an outage of the database or Redis is told so in JSON, then closed with 1013 "try again
later", instead of daphne failing the upgrade with a bare HTTP 500.

daphne cannot send a body with a refused upgrade (no ASGI websocket.http.response support), so the
guard accepts the socket to say why: one text frame, the REST API's error body
{"code": 50310000, "reason": "service_unavailable", "message": ...}, then the close. Nothing else
is sent, and the consumer never ran past the failure: it fails closed, and says so."""
import logging

import orjson

from .api_errors import OUTAGES, unavailable_body

log = logging.getLogger(__name__)
CLOSE_TRY_AGAIN_LATER = 1013


class _TrackedSend:
    """The server's send, noting whether the socket was accepted or closed. The server's own send
    stays reachable as `real_send` (the name channels' SessionMiddleware uses): the market-data
    stream's flow control finds daphne's transport through it (marketdata.stream.flow.unwrap).
    A plain closure here hid it, and every slow client went undetected."""

    def __init__(self, send):
        self.real_send = send
        self.accepted = self.closed = False

    async def send(self, message):
        if message["type"] == "websocket.accept":
            self.accepted = True
        elif message["type"] == "websocket.close":
            self.closed = True
        await self.real_send(message)


class OutageGuard:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        tracked = _TrackedSend(send)
        try:
            return await self.app(scope, receive, tracked.send)
        except OUTAGES as exc:
            log.warning("outage on websocket %s: %r", scope.get("path"), exc)
            if tracked.closed:
                return None
            if not tracked.accepted:
                await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": orjson.dumps(unavailable_body(exc)).decode()})
            await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})
            return None
