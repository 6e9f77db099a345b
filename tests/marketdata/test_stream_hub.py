"""The hub's join promise: once join() returns, an update published to the symbol's group reaches
the connection. On the real Redis pub/sub layer (group_add alone only sends SUBSCRIBE; an update
Redis handles before it would be lost although the client was told "subscription") and on the
in-memory layer of embedded mode, where the join's probe must come back just as well."""
import asyncio
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

from marketdata.groups import symbol_group
from marketdata.stream.hub import Hub


class Connection:
    def __init__(self):
        self.offered = asyncio.Event()

    def offer(self, rendered) -> bool:
        self.offered.set()
        return False

    async def flush(self) -> None:
        return None


@pytest.mark.parametrize("embedded", [False, True], ids=["redis-pubsub", "in-memory"])
def test_an_update_sent_right_after_join_returns_is_delivered(settings, embedded, caplog):
    assert "RedisPubSubChannelLayer" in settings.CHANNEL_LAYERS["default"]["BACKEND"]

    async def scenario():
        layer = InMemoryChannelLayer() if embedded else get_channel_layer()
        hub = Hub(layer)
        try:
            for symbol in ("JOIN1", "JOIN2", "JOIN3"):
                connection = Connection()
                await hub.join(connection, [symbol])
                await layer.group_send(symbol_group(symbol), {"type": "md.update", "symbol": symbol,
                                                              "sent_ns": time.time_ns(), "q": None, "t": [],
                                                              "b": [], "i": None})
                await asyncio.wait_for(connection.offered.wait(), 5)
        finally:
            for task in hub._tasks:
                task.cancel()
            await asyncio.gather(*hub._tasks, return_exceptions=True)

    async_to_sync(scenario)()
    assert not [r for r in caplog.records if "no probe came back" in r.getMessage()]  # each join confirmed
