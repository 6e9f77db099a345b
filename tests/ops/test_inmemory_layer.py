"""Embedded mode's in-memory channel layer (tradex/inmemory_layer.py): a message sent from another
thread's event loop (the FIX bridge's trade-update publisher, the feed's publisher) reaches a
consumer waiting on the server's loop at once."""
import asyncio
import threading

from tradex.inmemory_layer import ThreadSafeInMemoryChannelLayer

TIMEOUT = 10


def loop_in_thread() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    return loop


def test_a_group_send_from_another_threads_loop_wakes_the_receiver():
    """Channels' in-memory layer woke the receiver's future from the sender's thread: the server's
    loop, idle in select(), never noticed (fills did not reach the browser in embedded mode)."""
    layer = ThreadSafeInMemoryChannelLayer()
    server, publisher = loop_in_thread(), loop_in_thread()
    try:
        channel = asyncio.run_coroutine_threadsafe(layer.new_channel(), server).result(TIMEOUT)
        asyncio.run_coroutine_threadsafe(layer.group_add("trade_updates.x", channel), server).result(TIMEOUT)
        received = asyncio.run_coroutine_threadsafe(layer.receive(channel), server)
        # Scheduled after the receive's first step, so once this returns the consumer is waiting.
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), server).result(TIMEOUT)

        asyncio.run_coroutine_threadsafe(layer.group_send("trade_updates.x", {"type": "trade.update", "seq": 1}),
                                         publisher).result(TIMEOUT)

        assert received.result(TIMEOUT) == {"type": "trade.update", "seq": 1}
    finally:
        for loop in (server, publisher):
            loop.call_soon_threadsafe(loop.stop)
