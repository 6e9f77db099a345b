"""The in-memory channel layer of embedded mode, safe to send to from any thread's event loop.

Channels' InMemoryChannelLayer keeps each channel's messages in an asyncio.Queue that the consumer
waits on in the server's loop. In embedded mode the FIX bridge, the feed and the trade-update
publisher run in the same process on threads with event loops of their own, and a put from there
wakes the waiting consumer's future from the wrong thread: the server's loop is not woken (the
message sat until some other event, a second or more, or for good) and the groups dict is read
while the server's loop changes it. Here a send or group_send from a loop other than the one
consumers receive on is handed to that loop (run_coroutine_threadsafe) and awaited.
"""
import asyncio

from channels.layers import InMemoryChannelLayer


class ThreadSafeInMemoryChannelLayer(InMemoryChannelLayer):
    _home: asyncio.AbstractEventLoop | None = None  # the loop consumers receive on (the server's)

    async def receive(self, channel):
        self._home = asyncio.get_running_loop()
        return await super().receive(channel)

    async def group_add(self, group, channel):
        self._home = self._home or asyncio.get_running_loop()
        return await self._at_home(super().group_add(group, channel))

    async def group_discard(self, group, channel):
        return await self._at_home(super().group_discard(group, channel))

    async def send(self, channel, message):
        return await self._at_home(super().send(channel, message))

    async def group_send(self, group, message):
        return await self._at_home(super().group_send(group, message))

    async def _at_home(self, coroutine):
        home = self._home
        if home is None or not home.is_running() or home is asyncio.get_running_loop():
            return await coroutine
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, home))
