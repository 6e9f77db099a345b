"""Cash-account rules: good-faith violations and free riding are detected, counted, visible to
the user, and restrict the account for 90 days on the configured count."""
from datetime import date, timedelta

import pytest

from accounts.models import Account
from settlement.models import AccountRestriction, CashRuleViolation
from settlement.services import restrictions_expire, settle_due
from core.errors import Refused
from tests.factories import make_asset

from .helpers import at, trade

pytestmark = pytest.mark.django_db(transaction=True)


def _recent_settlement_days(n: int) -> list[str]:
    """n consecutive settlement days ending within the last weeks: the 12-month counts the user
    sees are counted back from today."""
    from settlement import calendar

    day, days = calendar.today() - timedelta(days=30), []
    while len(days) < n:
        day += timedelta(days=1)
        if calendar.is_settlement_day(day):
            days.append(day.isoformat())
    return days


DAYS = _recent_settlement_days(5)


@pytest.fixture
def symbols(aapl):
    make_asset("MSFT", price="100.00")
    return aapl


def good_faith_day(account, day):
    """Buy AAPL with settled cash, sell it; buy MSFT with the unsettled proceeds and sell MSFT the
    same day, before those proceeds settle: one good-faith violation (on MSFT, not AAPL)."""
    trade(account, "buy", 100, "100", when=at(day), symbol="AAPL")
    trade(account, "sell", 100, "100", when=at(day), symbol="AAPL")
    trade(account, "buy", 100, "100", when=at(day), symbol="MSFT")
    trade(account, "sell", 100, "100", when=at(day), symbol="MSFT")


def status(client_for, account):
    return client_for(account).get("/v2/account/settlement").json()["cash_account_rules"]


@pytest.mark.parametrize("limit", [3, 2])
def test_good_faith_violations_restrict_the_account_on_the_configured_count(settings, symbols, account, limit,
                                                                          client_for):
    settings.TRADEX_GFV_LIMIT = limit
    for n, day in enumerate(DAYS[:limit], start=1):
        good_faith_day(account, day)
        settle_due(as_of=date.fromisoformat(DAYS[n]))  # the day's trades settle the next day
        account.refresh_from_db()
        rules = status(client_for, account)
        assert rules["good_faith_violations_12m"] == n
        assert [v["symbol"] for v in rules["violations"]] == ["MSFT"] * n
        if n < limit:
            assert account.status == Account.Status.ACTIVE and rules["restricted_until"] is None
    assert account.status == Account.Status.RESTRICTED
    restriction = AccountRestriction.objects.get(account=account)
    assert restriction.ends_on == date.fromisoformat(DAYS[limit - 1]) + timedelta(days=90)
    assert rules["restricted_until"] is None or rules["restricted_until"] == restriction.ends_on.isoformat()
    with pytest.raises(Refused, match="restricted"):
        trade(account, "buy", 1, "100", when=at(DAYS[limit]), symbol="AAPL")
    # The restriction lifts after its 90 days, not before.
    assert restrictions_expire(today=restriction.ends_on) == 0
    assert restrictions_expire(today=restriction.ends_on + timedelta(days=1)) == 1
    account.refresh_from_db()
    assert account.status == Account.Status.ACTIVE


def test_selling_shares_paid_with_settled_cash_is_no_violation(symbols, account):
    trade(account, "buy", 50, "100", when=at(DAYS[0]), symbol="AAPL")
    trade(account, "sell", 50, "100", when=at(DAYS[0]), symbol="AAPL")  # a day trade, paid for: fine
    trade(account, "buy", 40, "100", when=at(DAYS[0]), symbol="MSFT")  # settled cash still covers it
    trade(account, "sell", 40, "100", when=at(DAYS[0]), symbol="MSFT")
    assert not CashRuleViolation.objects.exists()


def test_buying_with_proceeds_and_holding_until_they_settle_is_no_violation(symbols, account):
    trade(account, "buy", 100, "100", when=at(DAYS[0]), symbol="AAPL")
    settle_due(as_of=date.fromisoformat(DAYS[1]))
    trade(account, "sell", 100, "100", when=at(DAYS[1]), symbol="AAPL")
    trade(account, "buy", 100, "100", when=at(DAYS[1]), symbol="MSFT")  # unsettled proceeds
    trade(account, "sell", 100, "100", when=at(DAYS[2]), symbol="MSFT")  # proceeds settled on DAYS[2]
    assert not CashRuleViolation.objects.exists()


def test_a_buy_left_unpaid_is_flagged_and_cannot_be_sold_while_unpaid(symbols, account):
    """A fill above the reserved price can cost more than all the account's cash: the buy is
    flagged unfunded; selling it while the account is in debit would be free riding, and order
    entry refuses the sale; once the debit is paid, selling is no violation."""
    from accounts.services import cash_deposit
    from orders.services import execution_apply, order_place
    from settlement.models import Obligation

    order = order_place(account_id=account.pk, actor="test", symbol="AAPL", side="buy", order_type="market",
                        time_in_force="day", qty="90", client_order_id="fr")
    execution_apply(venue="TEST", exec_id="fr-1", order_id=order.pk, qty="90", price="120", transacted_at=at(DAYS[0]))
    account.refresh_from_db()
    assert account.cash == -800
    buy = Obligation.objects.get()
    assert (buy.unfunded, buy.unsettled_funded) == (800, 0)
    with pytest.raises(Refused):
        trade(account, "sell", 90, "100", when=at(DAYS[0]), symbol="AAPL")
    cash_deposit(account_id=account.pk, amount="1000", actor="test")
    trade(account, "sell", 90, "100", when=at(DAYS[0]), symbol="AAPL")
    assert not CashRuleViolation.objects.exists()
    account.refresh_from_db()
    assert account.status == Account.Status.ACTIVE


def test_margin_accounts_are_not_subject_to_cash_rules(symbols, margin_account):
    good_faith_day(margin_account, DAYS[0])
    assert not CashRuleViolation.objects.exists()
