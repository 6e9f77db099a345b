"""Channel-layer helpers for tests."""
import asyncio

PROBE = "test.probe"


async def group_add_confirmed(layer, group: str, channel: str, *, timeout: float = 10) -> None:
    """group_add, then wait until the membership delivers: Redis pub/sub drops what is published
    before its SUBSCRIBE has taken effect, and group_add does not wait for that. A probe is sent
    to the group until one arrives (each within a short timeout), so the test starts from a live
    subscription instead of guessing with a sleep. Other messages must not be pending yet."""
    await layer.group_add(group, channel)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    sent = 0
    while loop.time() < deadline:
        sent += 1
        await layer.group_send(group, {"type": PROBE, "n": sent})
        try:
            while True:
                message = await asyncio.wait_for(layer.receive(channel), 0.2)
                # once one probe is delivered, the later ones follow it in order: wait for the last
                if message.get("type") == PROBE and message["n"] == sent:
                    return
                if message.get("type") == PROBE:
                    deadline = max(deadline, loop.time() + 1)
        except asyncio.TimeoutError:
            continue
    raise TimeoutError(f"the channel layer never delivered to {group}")
