"""Alpaca's last_equity is the previous close's equity and stays fixed through the day, so
equity - last_equity is today's P&L (portfolio/last_close.py).

Bug pinned (issue 13, item 9): a position opened today was valued at yesterday's close against cash
that had already paid today's price, so a same-day buy moved last_equity and "today's P&L" showed
the gap between yesterday's close and the fill price."""
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.models import JournalEntry
from accounts.services import cash_deposit
from marketdata.selectors import last_price_set
from portfolio.last_close import last_close_time
from portfolio.models import Position
from portfolio.monitor import _load_states
from tests.api.conftest import Trader

from .conftest import trade

D = Decimal


def _account(trader: Trader) -> dict:
    return trader.client.get("/v2/account").json()


def _as_of_yesterday(account) -> None:
    """What the account did so far happened before the last close (fills and their cash)."""
    before = last_close_time(timezone.now()) - timedelta(hours=1)
    JournalEntry.objects.filter(account=account).update(created_at=before)


def test_a_same_day_buy_leaves_last_equity_where_it_was(aapl):
    # Given a funded account that held nothing at the last close (AAPL closed at 98)
    trader = Trader(cash="100000", account_type="margin")
    _as_of_yesterday(trader.account)
    assert D(_account(trader)["last_equity"]) == 100000
    # When it buys 10 AAPL at 100 today and AAPL moves to 120
    trade(trader.account, "buy", 10, "100")
    last_price_set("AAPL", D("120"))
    body = _account(trader)
    # Then last_equity has not moved, and equity - last_equity is today's gain of 10 x 20
    assert D(body["last_equity"]) == 100000
    assert D(body["equity"]) - D(body["last_equity"]) == 200


def test_a_position_held_overnight_counts_at_the_close_even_once_sold_today(aapl):
    # Given 10 AAPL bought at 90 before the last close (AAPL closed at 98)
    trader = Trader(cash="100000", account_type="margin")
    trade(trader.account, "buy", 10, "90", at=last_close_time(timezone.now()) - timedelta(hours=2))
    _as_of_yesterday(trader.account)
    expected = D(100000) - 900 + 10 * 98
    assert D(_account(trader)["last_equity"]) == expected
    # When they are sold today at 120
    trade(trader.account, "sell", 10, "120")
    assert Position.objects.get(account=trader.account, symbol="AAPL").qty == 0
    body = _account(trader)
    # Then last_equity is unchanged and today's P&L is 10 x (120 - 98)
    assert D(body["last_equity"]) == expected
    assert D(body["equity"]) - D(body["last_equity"]) == 220


def test_a_deposit_today_is_not_profit(aapl):
    trader = Trader(cash="1000", account_type="margin")
    _as_of_yesterday(trader.account)
    cash_deposit(account_id=trader.account.pk, amount=D("500"), actor="test")
    body = _account(trader)
    assert D(body["equity"]) - D(body["last_equity"]) == 0


def test_the_margin_monitor_pushes_the_same_last_equity(aapl):
    """The monitor's pushed figures came from its own arithmetic (cash + qty x prev close)."""
    trader = Trader(cash="100000", account_type="margin")
    _as_of_yesterday(trader.account)
    trade(trader.account, "buy", 10, "100")
    [state] = _load_states([trader.account.pk])
    assert state.last_equity == D(_account(trader)["last_equity"]) == 100000
