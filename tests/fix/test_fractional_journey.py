"""Fractional and notional orders over real FIX sessions: the venue gets whole shares only (it
refuses fractions, `bad_lot`), the house's desk fills the rest at the venue's price."""
from decimal import Decimal

import pytest

from accounts.house import house_account_id
from accounts.models import Account
from accounts.selectors import ledger_balance_mismatches, ledger_unbalanced_entries
from orders.models import Execution, Order
from orders.services import order_place
from portfolio.models import Position
from tests.factories import make_account
from core.values import money

pytestmark = pytest.mark.django_db(transaction=True)
TIMEOUT = 15
D = Decimal


def _status(order_id):
    return Order.objects.values_list("status", flat=True).get(pk=order_id)


@pytest.fixture
def bridge(fix_assets, venue_factory, bridge_factory):
    venue = venue_factory("SIMA")
    bridge = bridge_factory([("SIMA", "127.0.0.1", venue.config.port)])
    assert bridge.app.wait_for(lambda: bridge.app.is_logged_on("SIMA"), TIMEOUT)
    return bridge


def test_one_and_a_half_shares_one_from_the_venue_half_from_the_house(bridge):
    """Bug: a fractional qty went to the venue whole and was rejected bad_lot."""
    account = make_account(cash=D("10000"))
    order = order_place(account_id=account.pk, actor="test", symbol="AAPL", side="buy", order_type="market",
                        qty="1.5", time_in_force="day")

    assert bridge.app.wait_for(lambda: _status(order.pk) == "filled", TIMEOUT), _status(order.pk)
    order.refresh_from_db()
    venue_fills = list(Execution.objects.filter(order=order).exclude(venue="HOUSE").values_list("qty", "price"))
    house = Execution.objects.get(order=order, venue="HOUSE")
    assert order.venue == "SIMA" and sum(q for q, _ in venue_fills) == 1
    assert house.qty == D("0.5") and house.price == order.filled_avg_price  # the venue's average price
    assert order.filled_qty == D("1.5")
    assert Position.objects.get(account=account, symbol="AAPL").qty == D("1.5")
    assert Position.objects.get(account_id=house_account_id(), symbol="AAPL").qty == D("-0.5")
    # The ledger books each fill at its own value to the cent (0.5 x 100.01 is 50.00, not 50.005).
    spent = sum((money(q * p) for q, p in venue_fills), D(0)) + money(house.qty * house.price)
    assert Account.objects.get(pk=account.pk).cash == D("10000") - spent
    assert not ledger_unbalanced_entries() and not ledger_balance_mismatches()


def test_notional_order_over_fix_spends_at_most_its_notional(bridge):
    account = make_account(cash=D("10000"))
    order = order_place(account_id=account.pk, actor="test", symbol="MSFT", side="buy", order_type="market",
                        notional="450", time_in_force="day")

    assert bridge.app.wait_for(lambda: _status(order.pk) == "filled", TIMEOUT), _status(order.pk)
    order.refresh_from_db()
    assert order.filled_qty > 2 and set(Execution.objects.filter(order=order).values_list("venue", flat=True)) == {
        "SIMA", "HOUSE"}
    account = Account.objects.get(pk=account.pk)
    assert D("10000") - account.cash <= D("450") and account.reserved_cash == 0
    assert not ledger_unbalanced_entries() and not ledger_balance_mismatches()
