"""Invariant 5: nothing reaches the channel layer before the transaction commits, so a client is
never told about a change that then rolls back (the seed's "Order Submitted" for rejected orders)."""
import pytest
from django.db import connection

from orders.events import trade_updates_group
from orders.models import Order
from orders.services import order_place

pytestmark = pytest.mark.django_db(transaction=True)
ORDER = dict(symbol="AAPL", side="buy", order_type="limit", time_in_force="day", qty="1", limit_price="100")


@pytest.fixture
def listener(account, group_listener):
    return group_listener(trade_updates_group(account.pk)).receive


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
