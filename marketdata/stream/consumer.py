"""Alpaca's real-time stock data stream (v2) at /v2/{sip,iex,test}: alpaca-py's StockDataStream
with `url_override` works unchanged; the web terminal uses the same endpoint with its session.

    <- [{"T":"success","msg":"connected"}]
    -> {"action":"auth","key":K,"secret":S}            (or APCA-API-KEY-ID/-SECRET-KEY headers,
    <- [{"T":"success","msg":"authenticated"}]           or a signed-in browser session: no frame)
    -> {"action":"subscribe","trades":["AAPL"],"quotes":["AAPL","MSFT"],"bars":["*"]}  (and updatedBars)
    <- [{"T":"subscription","trades":["AAPL"],"quotes":["AAPL","MSFT"],"bars":["*"],...}]
    <- [{"T":"q","S":"AAPL","bp":187.12,...},{"T":"t","S":"AAPL","p":187.13,...}]
    -> {"action":"unsubscribe","quotes":["MSFT"]}

Encoding: MessagePack when the upgrade request says `Content-Type: application/msgpack` (as
alpaca-py does, and as Alpaca decides it), JSON text frames otherwise. Client frames may be either.

One connection watches any number of symbols; its updates come from the process's hub
(marketdata.stream.hub), and leave through the connection's outbox: the latest quote per symbol
and a bounded list of trades and bars. While the client's socket is full (marketdata.stream.flow)
nothing is written; quotes are conflated to the latest, trades and bars queue up to
TRADEX_STREAM_MAX_PENDING and past that the oldest are dropped, counted and the client told
(407). A socket full for half of TRADEX_STREAM_SLOW_CLIENT_SECONDS gets 407 "slow client"; for all
of it, the connection is closed. The process and its other connections are not held up.

A connection ends with its credential (invariant 11, core.credentials): when its key is
revoked, its session logged out, its user's password changed or account closed, it gets
{"T":"error","code":414,"msg":"credentials ended","reason":...} and close 4414, through the hub.

Error frames are Alpaca's {"T":"error","code":N,"msg":...}; see ERRORS and
docs/marketdata-stream.md. Garbage (not a JSON / MessagePack object) or an oversized frame gets
an error and closes that connection only.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from core import credentials, stream_leases
from core.wsframes import BadFrame, decode_frame

from . import flow as flow_control
from .hub import hub
from .render import control_frame, json_frame, msgpack_frame
from .symbols import known_symbols

log = logging.getLogger(__name__)

# Alpaca's codes (docs.alpaca.markets, "Real-time stock data: errors"), and TradeX's own beyond.
ERRORS = {
    400: "invalid syntax",
    401: "not authenticated",
    402: "auth failed",
    403: "already authenticated",
    404: "auth timeout",
    405: "symbol limit exceeded",
    406: "connection limit exceeded",
    407: "slow client",
    410: "invalid subscribe action for this feed",
    # TradeX extensions
    411: "unknown symbol",
    412: "message rate limit exceeded",
    413: "frame too large",
    414: "credentials ended",
}
CHANNELS = ("trades", "quotes", "bars", "updatedBars")
# Alpaca channels this feed does not carry: subscribing with symbols is refused (410).
UNSUPPORTED = ("dailyBars", "statuses", "lulds", "orderbooks", "news")
# Alpaca subscribes these with trades; accepted and ignored when sent.
IMPLIED = ("corrections", "cancelErrors")
# Frames to the client stay well under websockets' default max_size (1 MiB), which alpaca-py uses.
MAX_OUT_FRAME_BYTES = 128 * 1024
WILDCARD = "*"
# Close codes: autobahn (daphne) sends only 1000 or 3000-4999, so a closing error's code is
# 4000 + its Alpaca code (4402 auth failed, 4404 auth timeout, 4400 garbage, 4413, 4407).
def close_code(error_code: int) -> int:
    return 4000 + error_code


# The consumer has no channel of its own: the hub is the process's one member of each group.
NO_LAYER = "marketdata.stream: no channel per connection"


def _limits():
    return (settings.TRADEX_STREAM_MAX_SYMBOLS, settings.TRADEX_STREAM_MAX_MESSAGES_PER_SECOND,
            settings.TRADEX_STREAM_MAX_FRAME_BYTES, settings.TRADEX_STREAM_MAX_PENDING,
            settings.TRADEX_STREAM_SLOW_CLIENT_SECONDS, settings.TRADEX_STREAM_AUTH_TIMEOUT_SECONDS)


class Refusal(Exception):
    def __init__(self, code: int, **extra):
        super().__init__(ERRORS[code])
        self.code, self.extra = code, extra


class Bucket:
    """Token bucket: `rate` client frames a second, bursts of up to 2 × rate (at least 5)."""

    def __init__(self, rate: float):
        self.rate, self.capacity = rate, max(5.0, 2 * rate)
        self.tokens, self.at = self.capacity, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Outbox:
    """What is waiting for the client: the latest quote per symbol, trades and bars in order."""

    def __init__(self, max_pending: int):
        self.quotes: dict[str, bytes] = {}
        self.events: deque[bytes] = deque()
        self.max_pending = max_pending
        self.conflated = 0  # quotes replaced by a newer one before they were sent
        self.dropped = 0  # trades and bars lost to the bound

    def __bool__(self) -> bool:
        return bool(self.events or self.quotes)

    def quote(self, symbol: str, piece: bytes) -> None:
        if self.quotes.pop(symbol, None) is not None:
            self.conflated += 1
        self.quotes[symbol] = piece

    def extend(self, pieces: list[bytes]) -> int:
        """Append; returns how many of the oldest were dropped to stay within the bound."""
        self.events.extend(pieces)
        over = len(self.events) - self.max_pending
        for _ in range(max(0, over)):
            self.events.popleft()
        if over > 0:
            self.dropped += over
        return max(0, over)

    def take(self, max_bytes: int) -> list[bytes]:
        """The oldest pieces up to about max_bytes (at least one)."""
        pieces, size = [], 0
        while self.events and size < max_bytes:
            pieces.append(self.events.popleft())
            size += len(pieces[-1])
        while self.quotes and size < max_bytes:
            pieces.append(self.quotes.pop(next(iter(self.quotes))))
            size += len(pieces[-1])
        return pieces


class StockDataConsumer(AsyncWebsocketConsumer):
    """Who may connect is the accounts layer's to say, above this package, so the wiring
    (tradex/ws_routes.py) gives it: StockDataConsumer.as_asgi(authenticate=..., credential_live=...).

    authenticate(key_id=, secret=) -> the user id of the live key with that id and secret (the
        connection cap counts per user), or None when the pair does not authenticate;
    credential_live(user_id=, key_id=, session_key=) -> whether the key or login session may
        still hold a socket open (core.credentials).
    Both are synchronous database reads; the consumer runs them off the event loop."""

    channel_layer_alias = NO_LAYER

    def __init__(self, *args, authenticate: Callable[..., object | None], credential_live: Callable[..., bool],
                 **kwargs):
        super().__init__(*args, **kwargs)
        self._key_user = database_sync_to_async(authenticate)
        self._credential_live = database_sync_to_async(credential_live)

    # --- connection -----------------------------------------------------------------------

    async def connect(self):
        (self.max_symbols, rate, self.max_frame_bytes, max_pending, self.slow_seconds,
         auth_timeout) = _limits()
        headers = {k.lower(): v for k, v in self.scope.get("headers", [])}
        self.binary = b"msgpack" in headers.get(b"content-type", b"").lower()
        self.authenticated = False
        self.closing = False
        self.lease = None  # this connection's place under the per-user cap (core/stream_leases.py)
        self.cred_groups: list[str] = []  # joined at the hub (core.credentials)
        self.subs: dict[str, set[str]] = {c: set() for c in CHANNELS}
        self.watched: set[str] = set()  # the symbols joined at the hub
        self.outbox = Outbox(max_pending)
        self.bucket = Bucket(rate)
        self.rate_error_at = float("-inf")
        self.warned_slow = False
        self._timers: list[asyncio.TimerHandle] = []
        self._slow_timers: list[asyncio.TimerHandle] = []
        self._tasks: set[asyncio.Task] = set()
        self.hub = hub()
        await self.accept()
        self._raw_send = flow_control.unwrap(self.base_send)
        self.flow = flow_control.watch(self.base_send, on_pause=self._paused, on_resume=self._resumed,
                                       max_message_bytes=max(4 * self.max_frame_bytes, 4 * MAX_OUT_FRAME_BYTES))
        await self._control({"T": "success", "msg": "connected"})

        user = self.scope.get("user")
        session = self.scope.get("session")
        key_id, secret = headers.get(b"apca-api-key-id"), headers.get(b"apca-api-secret-key")
        if user is not None and user.is_authenticated and session is not None and session.session_key:
            await self._authorized(user.pk, session_key=session.session_key)
        elif key_id is not None or secret is not None:
            await self._authenticate((key_id or b"").decode(errors="replace"), (secret or b"").decode(errors="replace"))
        else:
            loop = asyncio.get_running_loop()
            self._timers.append(loop.call_later(auth_timeout, self._spawn, self._auth_timed_out))

    async def disconnect(self, code):
        self.closing = True
        for timer in self._timers + self._slow_timers:
            timer.cancel()
        for task in self._tasks:
            task.cancel()
        self.hub.leave(self, self.watched)
        self.watched = set()
        self.hub.leave_credentials(self, self.cred_groups)
        self.cred_groups = []
        await stream_leases.market_data.leave(self)

    def _spawn(self, coroutine_function, *args, **kwargs):
        task = asyncio.ensure_future(coroutine_function(*args, **kwargs))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _auth_timed_out(self):
        if not self.authenticated and not self.closing:
            await self._error(404)
            await self._close(close_code(404))

    async def _close(self, code: int):
        self.closing = True
        await self.close(code=code)

    # --- client frames ----------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if self.closing:
            return
        try:
            frame, _ = decode_frame(text_data, bytes_data, max_bytes=self.max_frame_bytes)
        except BadFrame as exc:
            code = 413 if exc.code == "frame_too_large" else 400
            await self._error(code)
            await self._close(close_code(code))
            return
        if not self.bucket.take():
            now = time.monotonic()
            if now - self.rate_error_at >= 1:  # one error a second, not one per frame
                self.rate_error_at = now
                await self._error(412)
            return
        action = frame.get("action")
        try:
            if action == "auth":
                if self.authenticated:
                    raise Refusal(403)
                key_id, secret = frame.get("key"), frame.get("secret")
                if not isinstance(key_id, str) or not isinstance(secret, str):
                    raise Refusal(400)
                await self._authenticate(key_id, secret)
            elif action in ("subscribe", "unsubscribe"):
                if not self.authenticated:
                    raise Refusal(401)
                wanted = self._parse_channels(frame)
                await (self._subscribe(wanted) if action == "subscribe" else self._unsubscribe(wanted))
            else:
                raise Refusal(400)
        except Refusal as refusal:
            await self._error(refusal.code, **refusal.extra)

    async def _authenticate(self, key_id: str, secret: str):
        user_id = await self._key_user(key_id=key_id, secret=secret)
        if user_id is None:
            await self._error(402)
            await self._close(close_code(402))
            return
        await self._authorized(user_id, key_id=key_id)

    async def _authorized(self, user_id, *, key_id=None, session_key=None):
        # Join the credential's groups at the hub, then check it is still live: an ending committed
        # after the check arrives as cred.close (core.credentials).
        self.cred_groups = credentials.groups_of(user_id=user_id, key_id=key_id, session_key=session_key)
        await self.hub.join_credentials(self, self.cred_groups)
        if self.closing:
            return
        if not await self._credential_live(user_id=user_id, key_id=key_id, session_key=session_key):
            await self._error(402)
            await self._close(close_code(402))
            return
        admitted = await stream_leases.market_data.admit(self, user_id)
        if admitted is None:  # the client left meanwhile
            return
        if not admitted:
            await self._error(406, limit=settings.TRADEX_STREAM_MAX_CONNECTIONS_PER_USER)
            await self._close(close_code(406))
            return
        self.authenticated = True
        for timer in self._timers:
            timer.cancel()
        await self._control({"T": "success", "msg": "authenticated"})

    @staticmethod
    def _parse_channels(frame: dict) -> dict[str, set[str]]:
        wanted = {}
        for key, value in frame.items():
            if key == "action":
                continue
            if not isinstance(value, list) or not all(isinstance(s, str) and 0 < len(s) <= 32 for s in value):
                raise Refusal(400)
            if key in CHANNELS:
                wanted[key] = set(value)
            elif key in UNSUPPORTED:
                if value:
                    raise Refusal(410)
            elif key not in IMPLIED:
                raise Refusal(400)
        return wanted

    def _watched_for(self, subs: dict[str, set[str]], known: frozenset[str]) -> set[str]:
        symbols = set().union(*(s - {WILDCARD} for s in subs.values()))
        if any(WILDCARD in s for s in subs.values()):
            symbols |= known
        return symbols

    async def _subscribe(self, wanted: dict[str, set[str]]):
        named = set().union(*wanted.values()) - {WILDCARD} if wanted else set()
        known = await known_symbols(named)
        unknown = sorted(named - known)
        if unknown:
            raise Refusal(411, symbols=unknown)
        subs = {c: self.subs[c] | wanted.get(c, set()) for c in CHANNELS}
        watched = self._watched_for(subs, known)
        if len(watched) > self.max_symbols:
            raise Refusal(405, limit=self.max_symbols)
        await self.hub.join(self, watched - self.watched)
        self.subs, self.watched = subs, watched
        await self._subscription()

    async def _unsubscribe(self, wanted: dict[str, set[str]]):
        known = await known_symbols()
        subs = {c: self.subs[c] - wanted.get(c, set()) for c in CHANNELS}
        watched = self._watched_for(subs, known)
        self.hub.leave(self, self.watched - watched)
        if WILDCARD not in subs["quotes"]:  # no quote of an unsubscribed symbol after the reply
            for symbol in [s for s in self.outbox.quotes if s not in subs["quotes"]]:
                del self.outbox.quotes[symbol]
        self.subs, self.watched = subs, watched
        await self._subscription()

    async def _subscription(self):
        lists = {c: ([WILDCARD] if WILDCARD in s else sorted(s)) for c, s in self.subs.items()}
        await self._control({"T": "subscription", **lists, **{c: [] for c in UNSUPPORTED if c != "orderbooks"},
                             "corrections": lists["trades"], "cancelErrors": lists["trades"]})

    def credentials_ended(self, reason) -> None:
        """Called by the hub: the key, session or account of this connection has ended."""
        if not self.closing:
            self._spawn(self._credentials_closed, reason)

    async def _credentials_closed(self, reason):
        await self._error(414, reason=reason)
        await self._close(close_code(414))

    # --- updates, from the hub --------------------------------------------------------------

    def offer(self, rendered) -> bool:
        """Take what this connection watches of one update; True if there is something to send
        now (False while the socket is full: the hub will be told when it drains)."""
        if self.closing:
            return False
        symbol, subs, binary = rendered.symbol, self.subs, self.binary
        added = False
        if rendered.has_trades and (symbol in subs["trades"] or WILDCARD in subs["trades"]):
            dropped = self.outbox.extend(rendered.trades(binary))
            added = True
            if dropped:
                self._lost(dropped)
        if rendered.has_bars and (symbol in subs["bars"] or WILDCARD in subs["bars"]):
            # TradeX: a bar subscriber also gets the symbol's indicators after each closed bar
            dropped = self.outbox.extend(rendered.bars(binary) + rendered.indicators(binary))
            added = True
            if dropped:
                self._lost(dropped)
        if rendered.has_updated_bars and (symbol in subs["updatedBars"] or WILDCARD in subs["updatedBars"]):
            dropped = self.outbox.extend(rendered.updated_bars(binary))
            added = True
            if dropped:
                self._lost(dropped)
        if rendered.has_quote and (symbol in subs["quotes"] or WILDCARD in subs["quotes"]):
            self.outbox.quote(symbol, rendered.quote(binary))
            added = True
        return added and not (self.flow is not None and self.flow.paused)

    async def flush(self):
        while self.outbox and not self.closing and not (self.flow is not None and self.flow.paused):
            pieces = self.outbox.take(MAX_OUT_FRAME_BYTES)
            await self._send_frame(msgpack_frame(pieces) if self.binary else json_frame(pieces))

    # --- a slow client ----------------------------------------------------------------------

    def _paused(self):
        for timer in self._slow_timers:
            timer.cancel()
        loop = asyncio.get_running_loop()
        self._slow_timers = [loop.call_later(self.slow_seconds / 2, self._spawn, self._warn_slow),
                             loop.call_later(self.slow_seconds, self._spawn, self._disconnect_slow)]

    def _resumed(self):
        for timer in self._slow_timers:
            timer.cancel()
        self._slow_timers = []
        self.warned_slow = False
        if self.outbox and not self.closing:
            self.hub.mark_dirty(self)

    def _lost(self, dropped: int):
        if not self.warned_slow:
            self.warned_slow = True
            self._spawn(self._error, 407, dropped=self.outbox.dropped)

    async def _warn_slow(self):
        if self.flow is not None and self.flow.paused and not self.warned_slow and not self.closing:
            self.warned_slow = True
            await self._error(407, dropped=self.outbox.dropped)

    async def _disconnect_slow(self):
        if self.flow is not None and self.flow.paused and not self.closing:
            log.warning("market-data stream: disconnecting a slow client (%s trades/bars dropped, %s quotes "
                        "conflated)", self.outbox.dropped, self.outbox.conflated)
            await self._error(407, dropped=self.outbox.dropped, disconnect=True)
            # The close frame waits behind what the client did not read; autobahn drops the TCP
            # connection when the closing handshake times out (1 s).
            await self._close(close_code(407))

    # --- frames to the client ---------------------------------------------------------------

    async def _control(self, message: dict):
        if not self.closing:
            await self._send_frame(control_frame([message], binary=self.binary))

    async def _send_frame(self, frame):
        try:
            if self.binary:
                await self._raw_send({"type": "websocket.send", "bytes": frame})
            else:
                await self._raw_send({"type": "websocket.send", "text": frame})
        except Exception as exc:  # the client is going away (autobahn's Disconnected): stop sending
            if type(exc).__name__ != "Disconnected":
                log.exception("market-data stream: send failed; closing")
            self.closing = True

    async def _error(self, code: int, **extra):
        await self._control({"T": "error", "code": code, "msg": ERRORS[code], **extra})
