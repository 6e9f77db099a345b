"""Channel-layer helpers for tests.

Two properties of channels-redis' pub/sub layer shape this module:
- a cancelled `receive()` (e.g. by `asyncio.wait_for` timing out) deletes the channel's queue and
  UNSUBSCRIBES it, so whatever arrives before the next `receive()` is dropped. A test that waits
  "at most N seconds" must therefore never cancel `receive()`; one long-lived task drains the
  channel into an inbox and the test waits on the inbox instead.
- a group_add's SUBSCRIBE takes effect asynchronously, and what is published before that is
  lost; `join` sends probes until one arrives, so the test starts from a live subscription.
"""
import asyncio
import threading

from channels.layers import get_channel_layer

PROBE = "test.probe"


class GroupListener:
    """A channel joined to channel-layer groups, read from one event loop on its own thread (the
    Redis layer binds its connections to the loop that first used them)."""

    def __init__(self):
        self.layer = get_channel_layer()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.groups: list[str] = []
        self.channel, self._inbox, self._pump = self._run(self._open())

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    async def _open(self):
        channel = await self.layer.new_channel()
        inbox: asyncio.Queue = asyncio.Queue()

        async def pump():
            while True:
                inbox.put_nowait(await self.layer.receive(channel))

        return channel, inbox, asyncio.create_task(pump())

    async def _next(self, timeout: float):
        try:
            return await asyncio.wait_for(self._inbox.get(), timeout)  # cancelling a Queue.get is harmless
        except asyncio.TimeoutError:
            return None

    async def _join(self, group: str, timeout: float) -> None:
        await self.layer.group_add(group, self.channel)
        deadline = self.loop.time() + timeout
        sent = 0
        while self.loop.time() < deadline:
            sent += 1
            await self.layer.group_send(group, {"type": PROBE, "n": sent})
            while (message := await self._next(0.2)) is not None:
                # once one probe is delivered, the later ones follow it in order: wait for the last
                if message.get("type") == PROBE and message["n"] == sent:
                    return
                if message.get("type") == PROBE:
                    deadline = max(deadline, self.loop.time() + 1)
        raise TimeoutError(f"the channel layer never delivered to {group}")

    def join(self, group: str, timeout: float = 10) -> None:
        """Join `group` and return once a message sent to it arrives. Nothing else may be pending."""
        self._run(self._join(group, timeout))
        self.groups.append(group)

    def receive(self, timeout: float = 5):
        """The next message other than a late probe, or None after `timeout` seconds."""
        async def get():
            deadline = self.loop.time() + timeout
            while (message := await self._next(max(0.0, deadline - self.loop.time()))) is not None:
                if message.get("type") not in (PROBE, "md.probe"):  # md.probe: a hub confirming its join
                    return message
            return None
        return self._run(get())

    def receive_until(self, predicate, timeout: float = 5):
        """The first message for which predicate(message) holds, or None."""
        while True:
            message = self.receive(timeout)
            if message is None or predicate(message):
                return message

    def close(self) -> None:
        async def shut():
            self._pump.cancel()
            for group in self.groups:
                await self.layer.group_discard(group, self.channel)
        self._run(shut())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
