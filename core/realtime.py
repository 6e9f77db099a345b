"""The realtime publisher: channel-layer group sends from synchronous code (request threads,
Celery tasks), after commit, on one long-lived event loop on a daemon thread.

async_to_sync would build a new loop and a new Redis connection for every send (8 ms of the order
path, measured by bench/), and the request thread only hands the message over instead of waiting
for Redis. Used by trade updates (orders.events), notifications (marketdata.services) and the
closing of a credential's sockets (core.credentials), account updates and user notifications
(portfolio.push).
"""
import asyncio
import logging
import threading

from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)


class Publisher:
    """Owns the loop the channel layer's connections are bound to. Messages for one group are sent
    in the order they were committed, because the loop runs the sends in submission order."""

    def __init__(self):
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="realtime-publisher", daemon=True).start()
                self._loop = loop
            return self._loop

    def loop(self) -> asyncio.AbstractEventLoop:
        """The process's one publishing loop (started on first use), for senders with a loop-bound
        task of their own (the feed's conflating publisher)."""
        return self._ensure_loop()

    def send(self, group: str, message: dict):
        """Hand the message to the loop and return at once; the returned future lets tests wait."""
        return asyncio.run_coroutine_threadsafe(self._send(group, message), self._ensure_loop())

    def send_many(self, messages: list[tuple[str, dict]]):
        """Hand over (group, message) pairs as one job, sent one after the other (a batch of the
        margin monitor's pushes: one hand-over, not one per account)."""
        return asyncio.run_coroutine_threadsafe(self._send_many(messages), self._ensure_loop())

    async def _send_many(self, messages: list[tuple[str, dict]]) -> None:
        for group, message in messages:
            await self._send(group, message)

    @staticmethod
    async def _send(group: str, message: dict) -> None:
        # What the message tells of is committed whatever happens here; each caller documents how a
        # lost push is recovered, so a channel-layer failure is logged, not raised.
        try:
            await get_channel_layer().group_send(group, message)
        except Exception:
            log.exception("realtime message to %s not delivered", group)


publisher = Publisher()


def push_after_commit(group: str, message: dict) -> None:
    """Send `message` to a channel group once the current transaction commits (nothing on
    rollback; at once outside a transaction), on the one long-lived loop."""
    transaction.on_commit(lambda: publisher.send(group, message))
