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


class OutageGuard:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        state = {"accepted": False, "closed": False}

        async def tracked_send(message):
            if message["type"] == "websocket.accept":
                state["accepted"] = True
            elif message["type"] == "websocket.close":
                state["closed"] = True
            await send(message)

        try:
            return await self.app(scope, receive, tracked_send)
        except OUTAGES as exc:
            log.warning("outage on websocket %s: %r", scope.get("path"), exc)
            if state["closed"]:
                return None
            if not state["accepted"]:
                await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": orjson.dumps(unavailable_body(exc)).decode()})
            await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})
            return None
