"""Notional and fractional orders through the services: whole shares to the venue, the fraction
from the house's inventory account (orders/services/fractional.py, docs/fractional.md)."""
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.house import house_account_id
from accounts.models import Account
from accounts.selectors import ledger_balance_mismatches, ledger_unbalanced_entries
from marketdata.selectors import latest_quote_set
from orders.models import Execution, Order, OutboxMessage, TradeUpdate
from orders.services import execution_apply, order_cancel, order_place, order_replace
from portfolio.models import Position
from settlement.models import Obligation
from tests.factories import make_account, make_asset
from core.errors import InvalidInput, Refused

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal


@pytest.fixture
def aapl(transactional_db):
    return make_asset("AAPL", price="100.00")


def market(account, **kw):
    order = dict(symbol="AAPL", side="buy", order_type="market", time_in_force="day")
    order.update(kw)
    return order_place(account_id=account.pk, actor="test", **order)


def fresh(obj):
    obj.refresh_from_db()
    return obj


def position(account_id, symbol="AAPL"):
    return Position.objects.filter(account_id=account_id, symbol=symbol).values_list("qty", flat=True).first()


def assert_books_balance():
    assert not ledger_unbalanced_entries() and not ledger_balance_mismatches()
    call_command("verify_ledger")  # raises CommandError when it does not


def events(account):
    return list(TradeUpdate.objects.filter(account=account).order_by("seq").values_list("event", flat=True))


def test_notional_5_dollar_buy_fills_from_the_house(aapl):
    """Bug: a notional order was accepted, then jammed the bridge (qty None); now the house fills it."""
    account = make_account(cash="1000")
    order = market(account, notional="5")
    order = fresh(order)
    assert order.status == "filled" and order.filled_qty == D("0.05") and order.filled_avg_price == 100
    assert order.qty == D("0.05") and order.alpaca_qty is None and order.notional == 5
    assert not OutboxMessage.objects.filter(order=order).exists()
    execution = Execution.objects.get(order=order)
    assert (execution.venue, execution.exec_id, execution.qty) == ("HOUSE", f"{order.pk.hex}-C", D("0.05"))
    account = fresh(account)
    assert account.cash == D("995.00") and account.reserved_cash == 0
    house = Account.objects.get(pk=house_account_id())
    assert position(account.pk) == D("0.05") and position(house.pk) == D("-0.05")
    assert house.cash == D("5.00")
    counter = Order.objects.get(account=house)
    assert (counter.side, counter.status, counter.filled_qty) == ("sell", "filled", D("0.05"))
    assert Execution.objects.get(order=counter).exec_id == f"{order.pk.hex}-H"
    # Both sides settle like any fill: one obligation each.
    assert Obligation.objects.filter(execution__order__in=[order, counter]).count() == 2
    assert events(account) == ["pending_new", "new", "fill"]
    assert_books_balance()


def test_notional_qty_is_decided_at_the_ask_and_never_spends_more(aapl):
    latest_quote_set("AAPL", {"ap": "100.30", "bp": "99.90"})
    account = make_account(cash="1000")
    order = fresh(market(account, notional="10"))
    assert order.qty == D("0.099700897")  # 10 / 100.30 floored to 9 decimals
    assert order.filled_avg_price == D("100.30")
    spent = D("1000") - fresh(account).cash
    assert spent == D("10.00")  # 0.099700897 × 100.30 = 9.9999999… to the cent: never above the notional
    assert_books_balance()


def test_zero_whole_share_order_never_writes_an_outbox_row(aapl):
    account = make_account(cash="1000")
    order = fresh(market(account, qty="0.5"))
    assert order.status == "filled" and order.venue == "HOUSE"
    assert OutboxMessage.objects.count() == 0
    assert fresh(account).cash == D("950.00")
    assert_books_balance()


def test_one_and_a_half_shares_send_one_to_the_venue_and_half_from_the_house(aapl):
    account = make_account(cash="1000")
    order = market(account, qty="1.5")
    row = OutboxMessage.objects.get(order=order)
    assert row.kind == "new" and row.payload == {"qty": "1"}
    assert fresh(order).status == "pending_new" and position(house_account_id()) in (None, 0)
    execution_apply(venue="SIMA", exec_id="V1", order_id=order.pk, qty="1", price="101.00", leaves_qty="0",
                    transacted_at=timezone.now())
    order = fresh(order)
    assert order.status == "filled" and order.filled_qty == D("1.5") and order.filled_avg_price == D("101")
    fills = list(Execution.objects.filter(order=order).order_by("created_at").values_list("venue", "qty", "price"))
    assert fills == [("SIMA", D("1"), D("101")), ("HOUSE", D("0.5"), D("101"))]
    assert fresh(account).cash == D("1000") - D("151.50") and fresh(account).reserved_cash == 0
    assert position(house_account_id()) == D("-0.5")
    assert events(account)[-2:] == ["partial_fill", "fill"]
    assert_books_balance()


def test_fractional_sell_is_bought_by_the_house(aapl):
    latest_quote_set("AAPL", {"ap": "100.10", "bp": "99.90"})
    account = make_account(cash="1000")
    buy = market(account, qty="2")
    execution_apply(venue="SIMA", exec_id="B1", order_id=buy.pk, qty="2", price="100", leaves_qty="0",
                    transacted_at=timezone.now())
    sell = fresh(market(account, side="sell", qty="0.25"))
    assert sell.status == "filled" and sell.filled_avg_price == D("99.90")  # the bid
    assert position(account.pk) == D("1.75") and position(house_account_id()) == D("0.25")
    assert Position.objects.get(account=account, symbol="AAPL").held_qty == 0
    assert fresh(account).cash == D("1000") - D("200") + D("24.98")  # 0.25 × 99.90 = 24.975, to the cent
    assert_books_balance()


def test_notional_buy_with_whole_shares_caps_the_venue_part_and_trims_the_house_part(aapl):
    account = make_account(cash="1000")
    order = market(account, notional="250")
    assert fresh(order).qty == D("2.5") and fresh(account).reserved_cash == D("250.00")
    row = OutboxMessage.objects.get(order=order)
    assert row.payload == {"qty": "2", "ord_type": "limit", "price": "125.00"}
    execution_apply(venue="SIMA", exec_id="V1", order_id=order.pk, qty="2", price="100.50", leaves_qty="0",
                    transacted_at=timezone.now())
    order = fresh(order)
    # 250 - 201.00 = 49.00 left, at 100.50 that buys 0.487562189 shares, not 0.5.
    assert order.status == "filled" and order.filled_qty == D("2.487562189") and order.qty == order.filled_qty
    assert fresh(account).cash == D("1000") - D("201.00") - D("49.00")
    assert fresh(account).reserved_cash == 0
    assert_books_balance()


@pytest.mark.parametrize("order, reason", [
    (dict(qty="0.5", order_type="limit", limit_price="100"), "fractional_market_only"),
    (dict(qty="0.5", time_in_force="gtc"), "fractional_day_only"),
    (dict(notional="5", order_type="limit", limit_price="100"), "notional_market_only"),
    (dict(notional="5", time_in_force="ioc"), "fractional_day_only"),
    (dict(qty="0.0000000001"), "invalid_qty"),
])
def test_fractional_orders_other_than_market_day_are_refused(aapl, order, reason):
    account = make_account(cash="1000")
    with pytest.raises(InvalidInput) as exc:
        market(account, **order)
    assert exc.value.reason == reason and exc.value.http_status == 422
    assert not Order.objects.exists()


def test_fractional_orders_cannot_be_replaced_and_cancel_leaves_the_fraction_unfilled(aapl):
    account = make_account(cash="1000")
    order = market(account, qty="1.5")
    with pytest.raises(InvalidInput) as exc:
        order_replace(account_id=account.pk, order_id=order.pk, actor="test", qty="3")
    assert exc.value.reason == "replace_fractional_unsupported"
    order_cancel(account_id=account.pk, order_id=order.pk, actor="test")
    assert fresh(order).status == "pending_cancel"
    assert not Execution.objects.exists()


def test_fractional_sell_never_goes_short(aapl):
    account = make_account(cash="10000", account_type="margin")
    with pytest.raises(Refused) as exc:
        market(account, side="sell", qty="0.5")
    assert exc.value.reason == "fractional_short"
    assert not Order.objects.exists() and not OutboxMessage.objects.exists()


def test_concurrent_fractional_orders_share_one_house_account_without_deadlock(aapl):
    """First uses of the house account at once: one account is created, every order fills, the
    house's inventory is the sum, and the books balance (the house is a leaf of the lock order)."""
    from tests.concurrency import run_in_threads

    accounts = [make_account(cash="1000") for _ in range(6)]
    orders = [(a,) for a in accounts] + [(accounts[0],), (accounts[1],)]  # two accounts order twice
    results = run_in_threads(lambda a: market(a, notional="5"), orders, workers=4)
    assert [exc for _, exc in results if exc is not None] == []
    assert Account.objects.filter(user__username="tradex-house").count() == 1
    assert Order.objects.filter(account_id__in=[a.pk for a in accounts], status="filled").count() == len(orders)
    assert position(house_account_id()) == -D("0.05") * len(orders)
    assert Account.objects.get(pk=house_account_id()).cash == D("5.00") * len(orders)
    assert_books_balance()
