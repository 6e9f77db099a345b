"""One channel-layer member per process for every symbol any of its connections watches.

The feed sends each update once to `symbol_group(symbol)` (marketdata.groups). Rather than make
every WebSocket connection a member of every group it watches — 1,000 connections × 20 symbols =
20,000 memberships, each message copied, deserialised and dispatched once per connection — the
process's hub is the member, once per symbol, and hands each message to its local connections:

- the message is rendered once per process and encoding (marketdata.stream.render.Rendered);
- each connection appends the shared bytes to its outbox (conflating quotes);
- one flusher then writes each connection's outbox as one frame. While messages keep arriving
  the receiver drains them all before the flusher runs, so under load frames carry many messages
  and under light load each message leaves at once: batching that adapts, with no timer.

Group memberships are refreshed every MAINTENANCE_SECONDS (channels_redis.core expires them after
a day) and dropped when no local connection has wanted the symbol for that long.

The hub is also its connections' member of their credentials' groups (core.credentials): a
`cred.close` sent to the group of a revoked key, a logged-out session or a closed account closes
every local connection authenticated by it (`credentials_ended`).
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import time
import weakref

from channels.layers import get_channel_layer

from marketdata.groups import symbol_group
from core import credentials

from .render import BadMessage, Rendered

log = logging.getLogger(__name__)

MAINTENANCE_SECONDS = 600.0
# A join is confirmed by a probe that went round the group (see _group_join): sent every
# PROBE_SECONDS until one is back, for at most JOIN_CONFIRM_SECONDS.
PROBE = "md.probe"
PROBE_SECONDS = 0.05
JOIN_CONFIRM_SECONDS = 2.0
_hubs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> Hub


def hub() -> Hub:
    """This event loop's hub (daphne runs one loop; tests may run several)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = Hub(get_channel_layer())
    return found


class Hub:
    def __init__(self, layer):
        self.layer = layer
        self.channel: str | None = None
        self.members: dict[str, set] = {}  # symbol -> connections watching it here
        self.holders: dict[str, set] = {}  # credential group -> connections authenticated by it here
        self._joined: dict[str, asyncio.Future] = {}  # group -> its group_add (done or under way)
        self._idle_since: dict[str, float] = {}  # group -> when its last local member left
        self._dirty: dict = {}  # connections with something to send (insertion-ordered set)
        self._wake = asyncio.Event()
        self._start_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task] = []
        self.received = 0  # md.update messages taken from the layer (bench, tests)
        self._probes: dict[int, asyncio.Future] = {}  # probe number -> resolved when it comes back
        self._probe_numbers = itertools.count()

    async def _start(self) -> None:
        async with self._start_lock:
            if self.channel is None:
                self.channel = await self.layer.new_channel()
                self._tasks = [asyncio.ensure_future(self._receive_loop()), asyncio.ensure_future(self._flush_loop()),
                               asyncio.ensure_future(self._maintain_loop())]

    async def join(self, connection, symbols) -> None:
        """Deliver these symbols' updates to the connection; returns once the process is a member
        of each symbol's group, so an update sent after this returns reaches the connection."""
        await self._join_groups(connection, {symbol_group(s): self.members.setdefault(s, set()) for s in symbols})

    async def join_credentials(self, connection, groups) -> None:
        """Close the connection when one of these credential groups is told to (see the module
        docstring); returns once the process is a member of each."""
        await self._join_groups(connection, {g: self.holders.setdefault(g, set()) for g in groups})

    def leave_credentials(self, connection, groups) -> None:
        now = time.monotonic()
        for group in groups:
            holders = self.holders.get(group)
            if holders is not None:
                holders.discard(connection)
                if not holders:
                    del self.holders[group]
                    self._idle_since[group] = now

    async def _join_groups(self, connection, local: dict[str, set]) -> None:
        """`local`: group name -> the set of local connections it delivers to."""
        if self.channel is None:
            await self._start()
        pending = []
        for group, connections in local.items():
            connections.add(connection)
            self._idle_since.pop(group, None)
            joined = self._joined.get(group)
            if joined is None:
                joined = self._joined[group] = asyncio.ensure_future(self._group_join(group))
            if not joined.done():
                pending.append(joined)
        if pending:
            results = await asyncio.gather(*pending, return_exceptions=True)
            failed = [r for r in results if isinstance(r, BaseException)]
            if failed:
                for group in local:  # let the next join try again
                    if group in self._joined and self._joined[group].done() and self._joined[group].exception():
                        del self._joined[group]
                raise failed[0]

    def _in_use(self, group: str) -> bool:
        return group in self.holders if group.startswith("cred.") else group in self._symbol_groups()

    def _symbol_groups(self) -> set[str]:
        return {symbol_group(s) for s in self.members}

    async def _group_join(self, group: str) -> None:
        """group_add, then wait until the membership delivers. Redis pub/sub's SUBSCRIBE takes
        effect when Redis reads it and group_add does not wait for that, so an update published in
        between would be lost although the client was already told "subscription". A probe sent
        through the group until one comes back closes that gap (and costs nothing on layers whose
        group_add is immediate)."""
        await self.layer.group_add(group, self.channel)
        loop = asyncio.get_running_loop()
        number = next(self._probe_numbers)
        back = self._probes[number] = loop.create_future()
        try:
            deadline = loop.time() + JOIN_CONFIRM_SECONDS
            while loop.time() < deadline:
                await self.layer.group_send(group, {"type": PROBE, "channel": self.channel, "n": number})
                try:
                    await asyncio.wait_for(asyncio.shield(back), PROBE_SECONDS)
                    return
                except asyncio.TimeoutError:
                    continue
            log.warning("market-data hub: %s joined, but no probe came back within %s s", group, JOIN_CONFIRM_SECONDS)
        finally:
            self._probes.pop(number, None)

    def leave(self, connection, symbols) -> None:
        now = time.monotonic()
        for symbol in symbols:
            members = self.members.get(symbol)
            if members is not None:
                members.discard(connection)
                if not members:
                    del self.members[symbol]
                    self._idle_since[symbol_group(symbol)] = now
        self._dirty.pop(connection, None)

    def mark_dirty(self, connection) -> None:
        self._dirty[connection] = None
        self._wake.set()

    def dispatch(self, message: dict) -> None:
        members = self.members.get(message.get("symbol"))
        if not members:
            return
        rendered = Rendered(message)
        try:
            for connection in members:
                if connection.offer(rendered):
                    self._dirty[connection] = None
        except BadMessage as exc:
            log.warning("md.update for %s dropped: %s", rendered.symbol, exc)
        if self._dirty:
            self._wake.set()

    async def _receive_loop(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis went away: the layer reconnects; don't spin meanwhile
                log.exception("market-data hub: receive failed")
                await asyncio.sleep(1)
                continue
            if message.get("type") != "md.update":
                if message.get("type") == credentials.CLOSE:
                    self._credentials_ended(message)
                elif message.get("type") == PROBE and message.get("channel") == self.channel:
                    back = self._probes.get(message.get("n"))
                    if back is not None and not back.done():
                        back.set_result(None)
                continue
            self.received += 1
            try:
                self.dispatch(message)
            except Exception:  # a bug must not stop the process's market data
                log.exception("market-data hub: dispatch failed")

    def _credentials_ended(self, message: dict) -> None:
        for connection in list(self.holders.get(message.get("group"), ())):
            try:
                connection.credentials_ended(message.get("reason"))
            except Exception:  # one connection's failure is not the others'
                log.exception("market-data stream: closing on %s failed", message.get("group"))

    async def _flush_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            dirty, self._dirty = self._dirty, {}
            for connection in dirty:
                try:
                    await connection.flush()
                except Exception:  # one connection's failure is not the others'
                    log.exception("market-data stream: flush failed")

    async def _maintain_loop(self) -> None:
        while True:
            await asyncio.sleep(MAINTENANCE_SECONDS)
            now = time.monotonic()
            in_use = self._symbol_groups() | set(self.holders)
            for group, since in list(self._idle_since.items()):
                if now - since >= MAINTENANCE_SECONDS and group not in in_use:
                    del self._idle_since[group]
                    self._joined.pop(group, None)
                    await self.layer.group_discard(group, self.channel)
                    if self._in_use(group):  # joined again while the discard was under way
                        self._joined[group] = asyncio.ensure_future(self._group_join(group))
            for group in in_use:
                await self.layer.group_add(group, self.channel)
