"""The trade-updates stream at /stream: Alpaca's protocol, so alpaca-py's TradingStream works
unchanged, plus a sequence number on every update and resumption after the last one a client saw.

    -> {"action": "auth", "key": ..., "secret": ...}
       or {"action": "authenticate", "data": {"key_id": ..., "secret_key": ...}}   (alpaca-py)
    <- {"stream": "authorization", "data": {"status": "authorized", "action": "authenticate"}}
    -> {"action": "listen", "data": {"streams": ["trade_updates"], "resume_after": 41}}
    <- {"stream": "listening", "data": {"streams": ["trade_updates"], "last_seq": 41}}
    <- {"stream": "trade_updates", "data": {"seq": 42, "event": "fill", "order": {...}, "timestamp": ...,
                                            "price": "100", "qty": "1", "position_qty": "1"}}

A browser signed in to the web terminal is authenticated by its session and may skip the keys.
One connection streams one account: the key's, or the signed-in user's. A user holds at most
TRADEX_STREAM_MAX_CONNECTIONS_PER_USER key-authenticated connections here (core/stream_leases.py;
beyond, "connection_limit_exceeded" and close 4008); browser sessions, one per terminal tab, are not
counted.

A connection ends with its credential (invariant 11, core.credentials): when its key is
revoked, its session logged out, its user's password changed or account closed, it gets
    <- {"stream": "authorization", "data": {"status": "unauthorized", "action": "authenticate",
                                            "code": "credentials_ended", "message": <reason>}}
and close 4001, in whichever process it lives.

No gap, no duplicate: the consumer remembers the last seq it sent. It joins the account's group
before it reads the stored updates, so an update committed meanwhile is queued on its channel and
skipped when it arrives if the replay already sent it. A live update whose seq is more than one
past the last sent (a push lost by the channel layer, or two processes' pushes overtaking each
other) is preceded by the missing ones, read from the TradeUpdate rows: every seq below a pushed
one is committed, because seqs are taken in commit order under the account lock.

Frames are JSON text; a client that sends binary frames gets binary ones back: JSON if it sent
JSON (as Alpaca does), MessagePack if it sent MessagePack. A frame that is not an object of the
protocol, or larger than MAX_FRAME_BYTES, gets an error frame and closes that connection only.
"""
import logging

import msgpack
import orjson
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from accounts.models import Account
from accounts.selectors import ApiKeyRefused, api_key_verify, socket_credential_live
from core import credentials, stream_leases
from core.wsframes import CLOSE_POLICY, CLOSE_UNSUPPORTED, BadFrame, decode_frame
from marketdata.groups import account_group
from portfolio.account_json import account_payload
from portfolio.push import watch_add, watch_remove

from .events import trade_updates_group
from .selectors import trade_update_last_seq, trade_updates_after

log = logging.getLogger(__name__)

STREAM = "trade_updates"
# TradeX extension: the account's valuation (portfolio.account_json, portfolio.push): a snapshot
# once on listen, then updates after each fill and, conflated, as prices move. Frames: {"stream": "account_updates",
# "data": {Alpaca account fields, "positions": [...] (snapshot and fills), "snapshot": true|false}}.
ACCOUNT_STREAM = "account_updates"
MAX_FRAME_BYTES = 4096
REPLAY_CHUNK = 500
MAX_SEQ = 2**63 - 1
CLOSE_CREDENTIALS_ENDED = 4001


@database_sync_to_async
def _account_of_key(key_id: str, secret: str) -> tuple:
    """(account id, user id) of a live key."""
    key = api_key_verify(key_id=key_id, secret=secret)
    return key.account_id, key.account.user_id




@database_sync_to_async
def _account_of_user(user):
    return Account.objects.filter(user_id=user.pk).values_list("pk", flat=True).first()


_last_seq = database_sync_to_async(trade_update_last_seq)
_credential_live = database_sync_to_async(socket_credential_live)


@database_sync_to_async
def _account_snapshot(account_id):
    return account_payload(account_id)


@database_sync_to_async
def _watch_add(account_id, channel_name):
    watch_add(account_id, channel_name)


@database_sync_to_async
def _watch_remove(account_id, channel_name):
    watch_remove(account_id, channel_name)
_updates_after = database_sync_to_async(trade_updates_after)


class TradeUpdatesConsumer(AsyncWebsocketConsumer):
    # Class defaults, so that a subclass with its own connect (frontend.TerminalConsumer) has them.
    lease = None  # a key-authenticated connection's place under the per-user cap
    closing = False
    cred_groups: tuple | list = ()  # the credential groups joined (core.credentials)

    async def connect(self):
        self.account_id = None  # set by authentication; never changes afterwards
        self.group = None  # set while listening
        self.account_group = None  # set while listening to account_updates
        self.last_seq = 0  # the seq of the last update sent (or skipped as before the listen)
        self.encoding = "text"  # of the client's last frame: text, json (binary) or msgpack
        user = self.scope.get("user")
        session = self.scope.get("session")
        if user is not None and user.is_authenticated and session is not None and session.session_key:
            if await self._hold_credential(user.pk, session_key=session.session_key):
                self.account_id = await _account_of_user(user)
        await self.accept()

    async def disconnect(self, code):
        self.closing = True
        await stream_leases.trade_updates.leave(self)
        for group in self.cred_groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.cred_groups = ()
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None
        await self._unlisten_account()

    # --- client frames ---------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        try:
            frame = self._decode(text_data, bytes_data)
        except BadFrame as exc:
            await self._error(exc.code, str(exc))
            await self.close(code=exc.close_code)
            return
        await self.handle_frame(frame)

    async def handle_frame(self, frame: dict):
        """One decoded client frame. The web terminal's consumer (frontend.consumers) extends the
        protocol by handling its own actions first and passing the rest here."""
        action, data = frame.get("action"), frame.get("data")
        if data is None:
            data = {}
        if not isinstance(data, dict):
            await self._error("invalid_frame", "data must be an object")
            await self.close(code=CLOSE_UNSUPPORTED)
        elif action in ("auth", "authenticate"):
            await self._authenticate(frame, data)
        elif action not in ("listen", "unlisten"):
            await self._error("unknown_action", "action must be auth, authenticate, listen or unlisten")
        elif self.account_id is None:
            await self._unauthorized(action, "not_authenticated", "authenticate first")
        elif action == "listen":
            await self._listen(data)
        else:
            await self._unlisten()
            await self._unlisten_account()
            await self._send({"stream": "listening", "data": {"streams": []}})

    def _decode(self, text_data, bytes_data) -> dict:
        if text_data is None:  # answer in kind even when the frame turns out to be garbage
            self.encoding = "json" if (bytes_data or b"").lstrip()[:1] == b"{" else "msgpack"
        else:
            self.encoding = "text"
        frame, self.encoding = decode_frame(text_data, bytes_data, max_bytes=MAX_FRAME_BYTES)
        return frame

    async def _authenticate(self, frame: dict, data: dict):
        key_id = frame.get("key", data.get("key_id"))
        secret = frame.get("secret", data.get("secret_key"))
        if key_id is None and secret is None and self.account_id is not None:
            await self._authorized()  # the browser's session
            return
        if not isinstance(key_id, str) or not isinstance(secret, str) or not key_id or not secret:
            await self._unauthorized("authenticate", "invalid_credentials", "key and secret are required")
            await self.close(code=CLOSE_POLICY)
            return
        try:
            account_id, user_id = await _account_of_key(key_id, secret)
            if not await self._hold_credential(user_id, key_id=key_id):
                raise ApiKeyRefused("invalid API key")
        except ApiKeyRefused as exc:
            await self._unauthorized("authenticate", "invalid_credentials", str(exc))
            await self.close(code=CLOSE_POLICY)
            return
        if self.account_id is not None and self.account_id != account_id:
            await self._unauthorized("authenticate", "account_mismatch",
                                     "this connection streams another account; open a new one")
            return
        admitted = await stream_leases.trade_updates.admit(self, user_id)
        if admitted is None:  # the client left meanwhile
            return
        if not admitted:
            limit = settings.TRADEX_STREAM_MAX_CONNECTIONS_PER_USER
            await self._unauthorized("authenticate", "connection_limit_exceeded",
                                     f"at most {limit} connections per user; multiplex over one")
            await self.close(code=CLOSE_POLICY)
            return
        self.account_id = account_id
        await self._authorized()

    async def _hold_credential(self, user_id, *, key_id=None, session_key=None) -> bool:
        """Join the credential's groups, then check it is still live (core.credentials: an
        ending committed after the check arrives as cred.close). False if it is not."""
        groups = [g for g in credentials.groups_of(user_id=user_id, key_id=key_id, session_key=session_key)
                  if g not in self.cred_groups]
        self.cred_groups = [*self.cred_groups, *groups]
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        return await _credential_live(user_id=user_id, key_id=key_id, session_key=session_key)

    async def md_probe(self, message: dict):
        """The market-data hub confirms its joins with a probe through the group (marketdata.stream.
        hub); it shares the credential groups with this connection, which ignores them."""

    async def cred_close(self, message: dict):
        """The key, session or account this connection was authenticated by has ended."""
        await self._unauthorized("authenticate", "credentials_ended", str(message.get("reason")))
        await self.close(code=CLOSE_CREDENTIALS_ENDED)

    async def _listen(self, data: dict):
        streams = data.get("streams")
        if not isinstance(streams, list) or not all(isinstance(s, str) for s in streams):
            await self._error("invalid_streams", "streams must be a list of stream names")
            return
        resume_after = data.get("resume_after")
        if resume_after is not None and (type(resume_after) is not int or not 0 <= resume_after <= MAX_SEQ):
            await self._error("invalid_resume_after", "resume_after must be a non-negative integer seq")
            return
        snapshot = await self._listen_account(ACCOUNT_STREAM in streams)
        extra = [ACCOUNT_STREAM] if self.account_group is not None else []
        if STREAM not in streams:
            await self._unlisten()
            await self._send({"stream": "listening", "data": {"streams": extra}})
            await self._send_account_snapshot(snapshot)
            return
        joined = self.group is None
        if joined:
            # Join before reading: an update committed from here on is queued on our channel.
            self.group = trade_updates_group(self.account_id)
            await self.channel_layer.group_add(self.group, self.channel_name)
        last = await _last_seq(account_id=self.account_id)
        first_batch = []
        if resume_after is not None:
            error = None
            if resume_after > last:
                error = ("resume_after_ahead", f"resume_after {resume_after} is past the last update, {last}")
            else:
                first_batch = await _updates_after(account_id=self.account_id, after_seq=resume_after,
                                                   limit=REPLAY_CHUNK)
                if first_batch and first_batch[0]["seq"] != resume_after + 1:
                    error = ("resume_after_expired", f"updates after {resume_after} are no longer kept; reload "
                             "orders over REST and listen without resume_after")
            if error:
                if joined:
                    await self._unlisten()
                if snapshot is not None:  # joined by this listen: leave as it found us
                    await self._unlisten_account()
                await self._error(*error)
                return
        self.last_seq = last if resume_after is None else resume_after
        await self._send({"stream": "listening", "data": {"streams": [STREAM] + extra, "last_seq": self.last_seq}})
        await self._send_account_snapshot(snapshot)
        await self._send_updates(first_batch)
        if len(first_batch) == REPLAY_CHUNK:
            await self._replay(upto=None)

    async def _unlisten(self):
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None

    async def _listen_account(self, wanted: bool):
        """Join or leave the account's valuation group; on joining, the snapshot to send (read
        after joining, so nothing pushed meanwhile is lost)."""
        if not wanted:
            await self._unlisten_account()
            return None
        if self.account_group is not None:
            return None  # already listening: no second snapshot

        self.account_group = account_group(self.account_id)
        await self.channel_layer.group_add(self.account_group, self.channel_name)
        await _watch_add(self.account_id, self.channel_name)
        return await _account_snapshot(self.account_id)

    async def _unlisten_account(self):
        if self.account_group is not None:
            await self.channel_layer.group_discard(self.account_group, self.channel_name)
            self.account_group = None
            await _watch_remove(self.account_id, self.channel_name)

    async def _send_account_snapshot(self, snapshot):
        if snapshot is not None:
            await self._send({"stream": ACCOUNT_STREAM, "data": {**snapshot, "snapshot": True}})

    async def account_update(self, message: dict):
        """A valuation pushed to marketdata.groups.account_group (portfolio.push / monitor)."""
        if self.account_group is not None:
            await self._send({"stream": ACCOUNT_STREAM, "data": {**message.get("data", {}), "snapshot": False}})

    # --- updates -----------------------------------------------------------------------------

    async def trade_update(self, message: dict):
        """A committed update pushed to the account's group (orders.events)."""
        seq = message.get("seq")
        if self.group is None or not isinstance(seq, int) or seq <= self.last_seq:
            return  # not listening, or already sent by a replay
        if seq > self.last_seq + 1:
            await self._replay(upto=seq - 1)
            if self.last_seq != seq - 1:
                log.warning("trade updates %s..%s of %s not found", self.last_seq + 1, seq - 1, self.account_id)
        data = {k: v for k, v in message.items() if k != "type"}
        await self._send_updates([data])

    async def _replay(self, *, upto: int | None):
        """Send the stored updates after the last sent, up to `upto` (all when None)."""
        while True:
            batch = await _updates_after(account_id=self.account_id, after_seq=self.last_seq, upto_seq=upto,
                                         limit=REPLAY_CHUNK)
            await self._send_updates(batch)
            if len(batch) < REPLAY_CHUNK:
                return

    async def _send_updates(self, updates: list[dict]):
        for data in updates:
            await self._send({"stream": STREAM, "data": data})
            self.last_seq = data["seq"]

    # --- frames to the client ------------------------------------------------------------------

    async def _send(self, frame: dict):
        if self.encoding == "msgpack":
            await self.send(bytes_data=msgpack.packb(frame))
        elif self.encoding == "json":
            await self.send(bytes_data=orjson.dumps(frame))
        else:
            await self.send(text_data=orjson.dumps(frame).decode())

    async def _authorized(self):
        await self._send({"stream": "authorization", "data": {"status": "authorized", "action": "authenticate"}})

    async def _unauthorized(self, action: str, code: str, message: str):
        await self._send({"stream": "authorization",
                          "data": {"status": "unauthorized", "action": action, "code": code, "message": message}})

    async def _error(self, code: str, message: str):
        await self._send({"stream": "listening", "data": {"error": message, "code": code}})
