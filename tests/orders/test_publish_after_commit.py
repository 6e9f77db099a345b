"""Invariant 5: nothing reaches the channel layer before the transaction commits, so a client is
never told about a change that then rolls back (the seed's "Order Submitted" for rejected orders)."""
import asyncio
import threading

import pytest
from channels.layers import get_channel_layer
from django.db import connection

from orders.events import trade_updates_group
from orders.models import Order
from orders.services import order_place
from tests.channels import group_add_confirmed

pytestmark = pytest.mark.django_db(transaction=True)
ORDER = dict(symbol="AAPL", side="buy", order_type="limit", time_in_force="day", qty="1", limit_price="100")


async def _receive(layer, channel, timeout):
    try:
        return await asyncio.wait_for(layer.receive(channel), timeout)
    except asyncio.TimeoutError:
        return None


@pytest.fixture
def listener(account):
    """A channel in the account's group, read from one event loop on its own thread (the Redis
    layer binds its connections to the loop that first used them)."""
    layer = get_channel_layer()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro):
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    channel = run(layer.new_channel())
    run(group_add_confirmed(layer, trade_updates_group(account.pk), channel))
    yield lambda timeout: run(_receive(layer, channel, timeout))
    run(layer.group_discard(trade_updates_group(account.pk), channel))
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)


def test_update_is_published_after_commit_not_before(account, aapl, listener):
    seen_inside_transaction = []

    def on_audit_insert(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith('INSERT INTO "compliance_auditevent"'):
            # The last write of order_place: the transaction is still open here.
            seen_inside_transaction.append(listener(0.2))
        return result

    with connection.execute_wrapper(on_audit_insert):
        order = order_place(account_id=account.pk, actor="test", **ORDER)
    assert seen_inside_transaction == [None]
    message = listener(5)
    assert message["event"] == "pending_new" and message["order"]["id"] == str(order.pk)


def test_rolled_back_order_publishes_nothing(account, aapl, listener):
    def fail_at_audit(execute, sql, params, many, context):
        if sql.startswith('INSERT INTO "compliance_auditevent"'):
            raise RuntimeError("simulated crash before commit")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail_at_audit), pytest.raises(RuntimeError):
        order_place(account_id=account.pk, actor="test", **ORDER)
    assert Order.objects.count() == 0
    assert listener(0.5) is None
