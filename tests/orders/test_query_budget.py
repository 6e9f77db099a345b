"""The order path reads maintained state, never history: its query count is fixed whatever the
account has done before (the seed's risk service scanned millions of orders)."""
import pytest
from django.utils import timezone

from orders.services import execution_apply, order_place
from tests.factories import make_asset

ORDER = dict(side="buy", order_type="limit", time_in_force="day", qty="1", limit_price="100")


def _history(account, n):
    for i in range(n):
        order = order_place(account_id=account.pk, actor="test", symbol="AAPL", **ORDER)
        execution_apply(venue="T", exec_id=f"h{i}", order_id=order.pk, qty="1", price="100", transacted_at=timezone.now())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("history", [0, 30])
def test_order_place_query_count_does_not_grow_with_history(django_assert_max_num_queries, margin_account, aapl, history):
    for symbol in ("MSFT", "NVDA"):
        make_asset(symbol, price="100")
    _history(margin_account, history)
    order_place(account_id=margin_account.pk, actor="test", symbol="MSFT", **ORDER)  # warm asset and price caches
    # position symbols; BEGIN; lock; account with limits, halts, open orders, audit head; positions;
    # order; account; outbox; audit; trade update (its per-account seq is max + 1 in the same
    # INSERT, on the (account, seq) index: a fixed cost, not a scan); COMMIT.
    with django_assert_max_num_queries(11):
        order_place(account_id=margin_account.pk, actor="test", symbol="MSFT", **ORDER)
