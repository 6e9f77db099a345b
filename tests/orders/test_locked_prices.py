"""The locked snapshot prices every position it locked, whatever was read before the lock."""

import pytest
from django.utils import timezone

from orders.models import Order
from orders.services import execution_apply, order_place
from orders.services import placement
from portfolio.models import Position
from tests.factories import make_account, make_asset

pytestmark = pytest.mark.django_db(transaction=True)


def test_fill_between_price_read_and_lock_does_not_refuse_for_another_symbol(monkeypatch):
    """Bug: a fill landing between the pre-lock price read and the account lock opened a position
    the snapshot had no price for: the order was refused `price_unavailable: no market price for AAPL`."""
    make_asset("AAPL", price="100.00")
    make_asset("MSFT", price="200.00")
    account = make_account(cash="10000", account_type="margin")
    aapl = order_place(account_id=account.pk, actor="test", symbol="AAPL", side="buy", order_type="market",
                       time_in_force="day", qty="3")
    read_before_lock = placement.prices_for
    seen = {}

    def fill_lands_after_the_read(account_id, symbol):
        prices = read_before_lock(account_id, symbol)
        seen["symbols"] = set(prices)
        execution_apply(venue="TEST", exec_id="E-AAPL-1", order_id=aapl.pk, qty="3", price="100.00",
                        transacted_at=timezone.now())
        return prices

    monkeypatch.setattr(placement, "prices_for", fill_lands_after_the_read)
    msft = order_place(account_id=account.pk, actor="test", symbol="MSFT", side="buy", order_type="market",
                       time_in_force="day", qty="2")
    assert seen["symbols"] == {"MSFT"}  # the AAPL position did not exist when prices were read
    assert Position.objects.get(account=account, symbol="AAPL").qty == 3
    assert Order.objects.get(pk=msft.pk).status == "pending_new"
