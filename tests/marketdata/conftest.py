import asyncio
import threading

import pytest
from channels.layers import get_channel_layer

from tests.channels import group_add_confirmed


class GroupListener:
    """A channel joined to channel-layer groups, read from one event loop on its own thread (the
    Redis layer binds its connections to the loop that first used them)."""

    def __init__(self):
        self.layer = get_channel_layer()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.channel = self._run(self.layer.new_channel())
        self.groups = []

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def join(self, group: str) -> None:
        self._run(group_add_confirmed(self.layer, group, self.channel))
        self.groups.append(group)

    def receive(self, timeout: float = 5):
        async def get():
            try:
                return await asyncio.wait_for(self.layer.receive(self.channel), timeout)
            except asyncio.TimeoutError:
                return None
        return self._run(get())

    def receive_until(self, predicate, timeout: float = 5):
        """The first message for which predicate(message) holds, or None."""
        while True:
            message = self.receive(timeout)
            if message is None or predicate(message):
                return message

    def close(self):
        for group in self.groups:
            self._run(self.layer.group_discard(group, self.channel))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


@pytest.fixture
def group_listener():
    listeners = []

    def make(*groups):
        listener = GroupListener()
        for group in groups:
            listener.join(group)
        listeners.append(listener)
        return listener

    yield make
    for listener in listeners:
        listener.close()


@pytest.fixture
def empty_tick_store(transactional_db):
    """The tick tables are raw SQL, outside the models pytest-django flushes between tests."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE marketdata_quote_tick, marketdata_trade_tick")
