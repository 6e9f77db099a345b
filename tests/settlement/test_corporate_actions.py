"""Splits adjust positions, open orders and unsettled trades, paying fractions as cash in lieu;
dividends are paid once through the ledger on the pay date, however often the job runs."""
from datetime import date

import pytest
from django.core.management import call_command

from orders.services import order_place
from portfolio.models import Position
from workflows.corporate_actions import corporate_actions_run
from settlement.models import CorporateAction, CorporateActionApplication, Obligation
from tests.factories import make_asset

from .helpers import D, at, trade

pytestmark = pytest.mark.django_db(transaction=True)


def place(account, symbol, side, qty, price):
    return order_place(account_id=account.pk, actor="test", symbol=symbol, side=side, order_type="limit",
                       time_in_force="gtc", qty=str(qty), limit_price=str(price))


def fresh(obj):
    obj.refresh_from_db()
    return obj


def holding(account, symbol, qty=15):
    make_asset(symbol, price="100.00", fractionable=False)
    trade(account, "buy", qty, "100", when=at("2025-10-08"), symbol=symbol)
    sell = place(account, symbol, "sell", 10, "105")
    buy = place(account, symbol, "buy", 20, "95")
    return sell, buy


def test_two_for_one_split(account):
    sell, buy = holding(account, "ABC")
    reserved_before = fresh(buy).reserved_cash
    CorporateAction.objects.create(symbol="ABC", kind="split", new_shares=2, old_shares=1, ex_date=date(2025, 10, 9))
    assert corporate_actions_run(today=date(2025, 10, 8))["splits"] == 0  # not effective yet
    assert corporate_actions_run(today=date(2025, 10, 9))["splits"] == 1
    position = Position.objects.get(account=account, symbol="ABC")
    assert (position.qty, position.avg_entry_price, position.held_qty) == (30, 50, 20)
    sell, buy = fresh(sell), fresh(buy)
    assert (sell.qty, sell.limit_price, sell.reserved_qty) == (20, D("52.5"), 20)
    assert (buy.qty, buy.limit_price, buy.reserved_cash) == (40, D("47.5"), reserved_before)  # same value held
    ob = Obligation.objects.get(account=account, symbol="ABC")
    assert (ob.qty, ob.price, ob.amount) == (30, 50, D("-1500.00"))  # settles in new shares, same cash
    application = CorporateActionApplication.objects.get()
    assert (application.qty_before, application.qty_after, application.cash, application.orders_adjusted) == (15, 30, 0, 2)
    # Exactly once: the job runs again, nothing changes.
    assert corporate_actions_run(today=date(2025, 10, 10))["splits"] == 0
    assert Position.objects.get(account=account, symbol="ABC").qty == 30
    assert CorporateAction.objects.get().status == "applied"


def test_one_for_ten_reverse_split_pays_cash_in_lieu(account):
    sell, buy = holding(account, "XYZ")
    cash_before = fresh(account).settled_cash
    CorporateAction.objects.create(symbol="XYZ", kind="split", new_shares=1, old_shares=10, ex_date=date(2025, 10, 9))
    corporate_actions_run(today=date(2025, 10, 9))
    position = Position.objects.get(account=account, symbol="XYZ")
    # 15 shares -> 1.5: one whole share, half a share paid in cash at 100 x 10 = 1000 a share.
    assert (position.qty, position.avg_entry_price, position.held_qty) == (1, 1000, 1)
    assert position.realized_pl == 0  # paid at cost
    account = fresh(account)
    assert account.settled_cash - cash_before == D("500.00")
    sell, buy = fresh(sell), fresh(buy)
    assert (sell.qty, sell.limit_price) == (1, D("1050"))
    assert (buy.qty, buy.limit_price) == (2, D("950"))
    assert CorporateActionApplication.objects.get().cash == D("500.00")
    assert corporate_actions_run(today=date(2025, 10, 9))["splits"] == 0
    assert fresh(account).settled_cash - cash_before == D("500.00")  # once
    call_command("verify_ledger")


def test_a_split_rescales_the_located_shares_an_open_short_order_reserved():
    from django.utils import timezone

    from portfolio.models import ShortLocate
    from portfolio.services import short_locates_load
    from tests.factories import make_account

    make_asset("HTB", price="10.00", fractionable=False, easy_to_borrow=False)
    short_locates_load(locates={"HTB": D(100)}, as_of=timezone.now().date(), actor="stock_loan")
    short = place(make_account(cash="100000", account_type="margin"), "HTB", "sell", 30, "10")
    assert (short.located_qty, ShortLocate.objects.get().shares_reserved) == (30, 30)
    CorporateAction.objects.create(symbol="HTB", kind="split", new_shares=2, old_shares=1, ex_date=date(2025, 10, 9))
    corporate_actions_run(today=date(2025, 10, 9))
    short = fresh(short)
    assert (short.qty, short.limit_price, short.located_qty) == (60, D("5"), 60)
    assert ShortLocate.objects.get().shares_reserved == 60  # the pool follows its orders


def test_dividend_is_paid_once_on_the_pay_date(account, aapl):
    from tests.factories import make_account

    trade(account, "buy", 30, "100", when=at("2025-10-08"))
    other = make_account(cash="10000")  # holds no AAPL: gets nothing
    action = CorporateAction.objects.create(symbol="AAPL", kind="dividend", cash_per_share="0.25",
                                            ex_date=date(2025, 10, 10), record_date=date(2025, 10, 10),
                                            pay_date=date(2025, 10, 20))
    assert corporate_actions_run(today=date(2025, 10, 10)) == {"splits": 0, "entitled": 1, "paid": 0}
    trade(account, "sell", 30, "100", when=at("2025-10-10"))  # sold on the ex date: still entitled
    cash = fresh(account).cash
    assert corporate_actions_run(today=date(2025, 10, 17))["paid"] == 0  # before the pay date
    assert corporate_actions_run(today=date(2025, 10, 20))["paid"] == 1
    assert corporate_actions_run(today=date(2025, 10, 20))["paid"] == 0  # the job ran twice
    assert corporate_actions_run(today=date(2025, 10, 21))["paid"] == 0
    assert fresh(account).cash - cash == D("7.50")
    assert fresh(other).cash == 10000
    assert fresh(action).status == "applied"
    call_command("verify_ledger")
