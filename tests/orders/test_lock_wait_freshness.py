"""Bug pinned: order_place read the audit chain head (and its other checks' inputs) in the same
SELECT ... FOR UPDATE that waited for the account lock. Under READ COMMITTED such a statement
re-reads the locked row but evaluates its subqueries on the snapshot from before the wait, so an
order that queued behind another transaction on the same account used a stale chain head and
failed on a duplicate audit sequence number."""
import threading
import time

import pytest
from django.db import connection, connections, transaction

from accounts.locks import lock_account
from compliance.selectors import audit_chain_breaks
from compliance.services import audit_record
from orders.models import Order
from orders.services import order_place

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_until_blocked_on_lock(deadline_s: float = 10.0) -> None:
    """Wait (bounded) until some other backend waits for a row lock."""
    end = time.monotonic() + deadline_s
    with connections["default"].cursor() as cursor:
        while time.monotonic() < end:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.005)  # polling the server's view of the wait, not waiting for time to pass
    raise AssertionError("the second order never queued behind the account lock")


def test_order_queued_behind_the_account_lock_sees_what_the_holder_committed(account, aapl):
    holder_has_lock, release = threading.Event(), threading.Event()
    outcome = {}

    def holder():
        try:
            with transaction.atomic():
                locked = lock_account(account.pk)
                holder_has_lock.set()
                release.wait(timeout=30)
                audit_record(account=locked, actor="test", action="test.event", entity_type="account",
                             entity_id=account.pk, data={})
        finally:
            connections.close_all()

    def waiter():
        try:
            outcome["order"] = order_place(account_id=account.pk, actor="test", symbol="AAPL", side="buy",
                                           order_type="limit", time_in_force="day", qty="1", limit_price="100",
                                           client_order_id="queued")
        except Exception as exc:  # judged below
            outcome["error"] = exc
        finally:
            connections.close_all()

    first = threading.Thread(target=holder)
    first.start()
    assert holder_has_lock.wait(timeout=10)
    second = threading.Thread(target=waiter)
    second.start()
    _wait_until_blocked_on_lock()
    release.set()
    first.join(timeout=30)
    second.join(timeout=30)
    connection.close()
    assert "error" not in outcome, outcome.get("error")
    assert Order.objects.filter(client_order_id="queued").count() == 1
    assert audit_chain_breaks() == []
