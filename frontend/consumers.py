"""The web terminal's one WebSocket per tab, at /ws/terminal.

It is the trade-updates stream (orders.consumers: same frames, same seq numbers, same replay with
resume_after, so no update is missed or doubled across a reconnect) with three more feeds
multiplexed on the same connection, each a channel group the consumer joins:

    md.<SYM>        market data of the symbols the page subscribed to    -> {"stream": "md", ...}
    user.<id>       the user's notifications (price alerts, margin calls) -> {"stream": "notification", ...}
    acct.<id>       the account's live valuation (portfolio)               -> {"stream": "account", ...}

and it ends with the login (core.credentials, as /stream does): logout, a password change or
the account's closure sends the last frame below to every tab of that session or user, in any
process, and closes it.

    -> {"action": "listen", "data": {"streams": ["trade_updates"], "resume_after": 41}}
    -> {"action": "subscribe", "data": {"symbols": ["AAPL", "MSFT"]}}     (adds)
    -> {"action": "unsubscribe", "data": {"symbols": ["MSFT"]}}
    <- {"stream": "subscription", "data": {"symbols": ["AAPL"]}}
    <- {"stream": "md", "data": {"S": "AAPL", "q": {...} | null, "t": {...} | null, "b": [...]}}
       (right after a subscribe, one frame per new symbol with "snapshot": true, the last known
        price as "t": {"p": ...} and "prev_close")
    <- {"stream": "notification", "data": {"kind": "alert", "data": {...}}}
    <- {"stream": "account", "data": {...Alpaca account fields...}}
    <- {"stream": "session", "data": {"status": "logged_out", "reason": "logged_out" | "password_changed" |
                                      "account_closed" | "user_inactive"}}   then close 4001

Session only: the terminal never takes API keys, and (unlike /stream) a connection must come
from a browser page of ours: an Origin naming one of ALLOWED_HOSTS (checked in tradex.ws_routes for
every WebSocket), and present. Market data is conflated per symbol: a tab gets at most one frame
per symbol every MD_FLUSH_SECONDS with the latest quote and trade, so a phone showing twenty
symbols wakes its radio a few times a second at most, not at the feed's rate.
"""
import asyncio
import re

from channels.db import database_sync_to_async

from accounts.models import Account
from marketdata.groups import symbol_group, user_group
from marketdata.models import Asset
from marketdata.selectors import last_prices
from orders.consumers import CLOSE_CREDENTIALS_ENDED, TradeUpdatesConsumer
from core.api import dec_str

MD_FLUSH_SECONDS = 0.1
MAX_SYMBOLS = 100
SYMBOL_RE = re.compile(r"^[A-Z][A-Z0-9.\-]{0,15}$")

CLOSE_NOT_SIGNED_IN = 4401
CLOSE_LOGGED_OUT = CLOSE_CREDENTIALS_ENDED


@database_sync_to_async
def _snapshots(symbols) -> list[dict]:
    """The last price the broker knows per symbol (quote cache, else the asset row) and the
    previous close, so a page shows prices at once instead of waiting for the next tick."""
    prices = last_prices(symbols)
    closes = dict(Asset.objects.filter(symbol__in=symbols).values_list("symbol", "prev_close"))
    return [{"S": s, "q": None, "t": {"p": dec_str(prices[s])} if s in prices else None, "b": [],
             "prev_close": dec_str(closes.get(s)), "snapshot": True} for s in sorted(symbols)]


@database_sync_to_async
def _account_id_of(user_id):
    return Account.objects.filter(user_id=user_id).values_list("pk", flat=True).first()


class TerminalConsumer(TradeUpdatesConsumer):
    async def connect(self):
        self.account_id = None
        self.group = None
        self.account_group = None  # joined through the base's _listen_account (valuation pushes)
        self.last_seq = 0
        self.encoding = "text"
        self.symbols: set[str] = set()
        self.md_pending: dict[str, dict] = {}
        self.flush_task: asyncio.Task | None = None
        self.fixed_groups: list[str] = []
        user = self.scope.get("user")
        session = self.scope.get("session")
        headers = dict(self.scope.get("headers") or [])
        if (user is None or not user.is_authenticated or session is None or not session.session_key
                or b"origin" not in headers):
            await self.close(code=CLOSE_NOT_SIGNED_IN)
            return
        self.account_id = await _account_id_of(user.pk)
        if self.account_id is None:
            await self.close(code=CLOSE_NOT_SIGNED_IN)
            return
        if not await self._hold_credential(user.pk, session_key=session.session_key):
            await self.close(code=CLOSE_NOT_SIGNED_IN)
            return
        self.fixed_groups = [user_group(user.pk)]
        for group in self.fixed_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self._authorized()
        # The account's valuation: joined and registered as watched (so the portfolio monitor
        # pushes price moves for it), then the snapshot read after joining.
        snapshot = await self._listen_account(True)
        if snapshot is not None:
            await self._send({"stream": "account", "data": {**snapshot, "snapshot": True}})

    async def disconnect(self, code):
        if self.flush_task is not None:
            self.flush_task.cancel()
        for group in self.fixed_groups + [symbol_group(s) for s in self.symbols]:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.symbols.clear()
        await super().disconnect(code)

    async def handle_frame(self, frame: dict):
        action, data = frame.get("action"), frame.get("data")
        if action in ("subscribe", "unsubscribe"):
            await self._subscription(action, data)
        elif action in ("auth", "authenticate"):
            # The session signed this connection in; keys would let a page switch accounts.
            await self._unauthorized("authenticate", "session_only", "the terminal uses your session, not API keys")
        else:
            await super().handle_frame(frame)

    async def _subscription(self, action: str, data):
        symbols = data.get("symbols") if isinstance(data, dict) else None
        if (not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols)
                or not all(SYMBOL_RE.match(s.upper()) for s in symbols)):
            await self._error("invalid_symbols", "symbols must be a list of ticker symbols")
            return
        wanted = {s.upper() for s in symbols}
        if action == "subscribe":
            new = wanted - self.symbols
            if len(self.symbols) + len(new) > MAX_SYMBOLS:
                await self._error("too_many_symbols", f"a tab follows at most {MAX_SYMBOLS} symbols")
                return
            for symbol in sorted(new):
                await self.channel_layer.group_add(symbol_group(symbol), self.channel_name)
            self.symbols |= new
            await self._send({"stream": "subscription", "data": {"symbols": sorted(self.symbols)}})
            for data in await _snapshots(sorted(new)) if new else []:
                await self._send({"stream": "md", "data": data})
            return
        else:
            for symbol in sorted(wanted & self.symbols):
                await self.channel_layer.group_discard(symbol_group(symbol), self.channel_name)
                self.md_pending.pop(symbol, None)
            self.symbols -= wanted
        await self._send({"stream": "subscription", "data": {"symbols": sorted(self.symbols)}})

    # --- group messages ------------------------------------------------------------------------

    async def md_update(self, message: dict):
        """marketdata.groups contract: {"symbol", "q", "t": [...], "b": [...]}; kept per symbol
        until the next flush: the latest quote, the latest trade, every closed bar."""
        symbol = str(message.get("symbol", "")).upper()
        if symbol not in self.symbols:
            return  # a message queued before we left the group
        pending = self.md_pending.setdefault(symbol, {"S": symbol, "q": None, "t": None, "b": []})
        if message.get("q"):
            pending["q"] = message["q"]
        trades = message.get("t") or []
        if trades:
            pending["t"] = trades[-1]
        pending["b"].extend(message.get("b") or [])
        if self.flush_task is None:
            self.flush_task = asyncio.get_running_loop().create_task(self._flush_md())

    async def _flush_md(self):
        try:
            await asyncio.sleep(MD_FLUSH_SECONDS)
        finally:
            self.flush_task = None
        pending, self.md_pending = self.md_pending, {}
        for data in pending.values():
            await self._send({"stream": "md", "data": data})

    async def user_notify(self, message: dict):
        await self._send({"stream": "notification", "data": {"kind": message.get("kind"), "data": message.get("data")}})

    async def account_update(self, message: dict):
        await self._send({"stream": "account", "data": message.get("data")})

    async def _listen_account(self, wanted: bool):
        """The terminal always carries the valuation, whatever a listen frame names (the base
        class would leave the group on a listen without `account_updates`)."""
        return await super()._listen_account(True)

    async def cred_close(self, message: dict):
        """The login ended (core.credentials): the socket must not outlive it."""
        await self._send({"stream": "session", "data": {"status": "logged_out", "reason": message.get("reason")}})
        await self.close(code=CLOSE_LOGGED_OUT)
