"""The margin monitor and margin calls: a price drop through the maintenance requirement gives
exactly one call, restricts the account, notifies the customer, and after the deadline liquidates
just enough to restore the requirement, through the normal order path, every step audited."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Account
from accounts.services import account_create, cash_deposit
from compliance.models import AuditEvent
from compliance.selectors import audit_chain_breaks
from marketdata.selectors import last_price_set
from orders.models import Order
from orders.services import execution_apply, order_place
from portfolio.models import MarginCall, Position, SymbolMargin
from portfolio.monitor import AccountState
from core.errors import Refused
from risk.margin import margin_figures
from workflows.margin_calls import Liquidation, liquidation_plan, margin_calls_enforce, margin_monitor

from .conftest import trade

D = Decimal


@pytest.fixture
def borrower(aapl):
    """Margin account: 10,000 cash, 200 AAPL bought at 100 (cash -10,000, equity 10,000,
    maintenance 25 % = 5,000). Equity falls below maintenance when 200 P - 10,000 < 50 P: P < 66.67."""
    account, _, _ = account_create(username="borrower", email="borrower@example.com", cash=D(10000),
                                   account_type="margin")
    trade(account, "buy", 200, "100")
    return account


def monitor_for(published=None):
    monitor = margin_monitor(publish=(published.extend if published is not None else lambda m: None))
    monitor.load()
    return monitor


def actions(account):
    return list(AuditEvent.objects.filter(chain=str(account.pk)).order_by("seq").values_list("action", flat=True))


def test_a_breach_calls_once_restricts_and_liquidates_just_enough_after_the_deadline(
        borrower, django_capture_on_commit_callbacks):
    monitor = monitor_for()
    monitor.on_prices({"AAPL": D("70")})  # equity 4,000 >= 3,500: no call
    monitor.run_pending()
    assert not MarginCall.objects.exists()

    # When the price drops to 65: equity 3,000 < maintenance 3,250.
    last_price_set("AAPL", D("65"))
    with django_capture_on_commit_callbacks(execute=True):
        monitor.on_prices({"AAPL": D("65")})
        monitor.run_pending()
        monitor.on_prices({"AAPL": D("64")})  # still below: no second call
        monitor.run_pending()
    call = MarginCall.objects.get()
    assert (call.status, call.equity, call.requirement, call.deficit) == ("open", D("3000.00"), D("3250.00"), D("250.00"))
    assert Account.objects.get(pk=borrower.pk).status == "RESTRICTED"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["borrower@example.com"]
    assert "Margin call" in mail.outbox[0].subject

    # Restricted to closing trades: a buy is refused, the account may still sell.
    last_price_set("AAPL", D("64"))
    with pytest.raises(Refused) as exc:
        order_place(account_id=borrower.pk, actor="test", symbol="AAPL", side="buy", order_type="market",
                    time_in_force="day", qty="1")
    assert exc.value.reason == "account_restricted"

    # Before the deadline nothing is sold; after it, enough to restore the requirement at 64:
    # deficit 3,200 - 2,800 = 400, each share sold frees 64 x 25 % = 16 -> 25 shares.
    assert margin_calls_enforce(now=call.due_at - timedelta(seconds=1))[0].status == "open"
    with django_capture_on_commit_callbacks(execute=True):
        margin_calls_enforce(now=call.due_at + timedelta(seconds=1))
    call.refresh_from_db()
    assert call.status == "liquidating"
    order = Order.objects.get(pk=call.liquidation[0]["order_id"])
    assert (order.side, order.qty, order.order_type, order.status) == ("sell", D(25), "market", "pending_new")
    assert order.client_order_id == f"mc-{call.pk}-1-AAPL"
    # Run twice (a retried beat job): no second order.
    margin_calls_enforce(now=call.due_at + timedelta(seconds=2))
    assert Order.objects.filter(account=borrower, side="sell").count() == 1

    # The venue fills it; the monitor sees the fill and the call is resolved.
    execution_apply(venue="TEST", exec_id="LIQ1", order_id=order.pk, qty="25", price="64", transacted_at=timezone.now())
    figures = margin_figures(Account.objects.get(pk=borrower.pk).cash, {"AAPL": D(175)}, {"AAPL": D(64)}, {},
                             maintenance=D("0.25"))
    assert figures.equity == figures.requirement == D("2800.00")  # restored, and not one share more sold
    with django_capture_on_commit_callbacks(execute=True):
        monitor.refresh()
        monitor.on_prices({"AAPL": D("64")})
        monitor.run_pending()
    call.refresh_from_db()
    assert call.status == "liquidated" and call.resolved_at is not None
    assert Account.objects.get(pk=borrower.pk).status == "ACTIVE"
    assert Position.objects.get(account=borrower).qty == 175
    acted = actions(borrower)
    for step in ("margin_call.issued", "account.changed", "margin_call.liquidation_planned", "order.placed",
                 "margin_call.liquidation_sent", "order.filled", "margin_call.liquidated"):
        assert step in acted, step
    assert acted.index("margin_call.issued") < acted.index("margin_call.liquidation_planned") \
        < acted.index("margin_call.liquidation_sent") < acted.index("margin_call.liquidated")
    assert not audit_chain_breaks()


def test_a_deposit_meets_the_call_and_lifts_the_restriction(borrower, django_capture_on_commit_callbacks):
    monitor = monitor_for()
    with django_capture_on_commit_callbacks(execute=True):
        monitor.on_prices({"AAPL": D("65")})
        monitor.run_pending()
    assert MarginCall.objects.get().status == "open"
    cash_deposit(account_id=borrower.pk, amount=D("300"), actor="test")
    with django_capture_on_commit_callbacks(execute=True):
        monitor.refresh()  # the deposit's journal entry is past the watermark
        monitor.on_prices({"AAPL": D("65")})
        monitor.run_pending()
    assert MarginCall.objects.get().status == "met"
    assert Account.objects.get(pk=borrower.pk).status == "ACTIVE"
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(borrower.user)
    [shown] = client.get("/v2/account/margin_calls").json()
    assert (shown["status"], shown["deficit"], shown["equity"]) == ("met", "250", "3000")
    assert [m.subject for m in mail.outbox] == ["[TradeX] Margin call", "[TradeX] Margin call resolved"]


def test_below_the_second_threshold_liquidates_at_once(borrower, django_capture_on_commit_callbacks):
    # At 60: equity 2,000 < 80 % of 3,000: no waiting for the deadline.
    last_price_set("AAPL", D("60"))
    monitor = monitor_for()
    with django_capture_on_commit_callbacks(execute=True):
        monitor.on_prices({"AAPL": D("60")})
        monitor.run_pending()
    call = MarginCall.objects.get()
    assert call.status == "liquidating"
    # deficit 1,000 at 60 x 25 % = 15 per share -> 67 shares
    assert [(leg["side"], leg["qty"]) for leg in call.liquidation] == [("sell", "67")]


def test_a_stricter_house_rate_for_a_symbol_calls_earlier(borrower):
    SymbolMargin.objects.create(symbol="AAPL", maintenance=D("0.40"))
    monitor = monitor_for()
    monitor.on_prices({"AAPL": D("80")})  # equity 6,000 < 40 % x 16,000 = 6,400 (25 % would be 4,000)
    monitor.run_pending()
    assert MarginCall.objects.get().requirement == D("6400.00")


def test_a_house_rate_raised_while_the_monitor_runs_applies_from_its_full_reload(borrower, monkeypatch):
    from portfolio import monitor as monitor_module

    monitor = monitor_for()
    SymbolMargin.objects.create(symbol="AAPL", maintenance=D("0.40"))
    monitor.on_prices({"AAPL": D("80")})  # at the 25 % it loaded: equity 6,000 > 4,000, no call
    monitor.run_pending()
    assert not MarginCall.objects.exists()
    monkeypatch.setattr(monitor_module, "FULL_RELOAD_SECONDS", 0)
    monitor.refresh()
    monitor.on_prices({"AAPL": D("80")})  # the reloaded state swaps in, valued at 40 %
    monitor.run_pending()
    assert MarginCall.objects.get().requirement == D("6400.00")


def test_only_accounts_holding_a_moved_symbol_are_touched(borrower):
    monitor = monitor_for()
    bystander = AccountState("bystander", None, True, D(100), {"MSFT": D(1)}, {"MSFT": D(400)})
    monitor.account_set(bystander)
    before = (bystander.mv, bystander.req)
    monitor.on_prices({"AAPL": D("99")})
    assert monitor.stats["account_updates"] == 1
    assert (bystander.mv, bystander.req) == before
    assert monitor.accounts[borrower.pk].mv == D(200 * 99)


def test_the_monitor_increments_match_a_full_revaluation(trader, aapl):
    from tests.factories import make_asset

    make_asset("MSFT", price="400")
    trade(trader, "buy", 30, "100")
    trade(trader, "sell", 5, "400", symbol="MSFT")
    monitor = monitor_for()
    for aapl_price, msft_price in [("101", "399"), ("97.5", "401.25"), ("103", "380")]:
        monitor.on_prices({"AAPL": D(aapl_price), "MSFT": D(msft_price)})
    state = monitor.accounts[trader.pk]
    full = AccountState(state.id, None, True, state.cash, dict(state.qty), dict(state.avg))
    full.revalue(monitor.prices, {}, D("0.25"))
    assert (state.mv, state.req) == (full.mv, full.req)
    assert state.sides(monitor.prices) == (30 * D("103"), -5 * D("380"))


LIQUIDATION_PLANS = {
    "one long": ({"A": ("100", "100")}, {"A": "10"}, "25", [("A", "sell", "10")]),  # 25 / 2.5
    "rounds up to whole shares": ({"A": ("100", "100")}, {"A": "10"}, "26", [("A", "sell", "11")]),
    "largest requirement first": ({"A": ("10", "10"), "B": ("100", "100")}, {"A": "10", "B": "10"}, "5",
                                  [("B", "sell", "2")]),
    "spills to the next": ({"A": ("10", "10"), "B": ("-4", "4")}, {"A": "10", "B": "100"}, "110",
                           [("B", "buy", "4"), ("A", "sell", "4")]),  # B frees 100, A the last 10 with 4 x 2.5
    "held shares are not sold": ({"A": ("100", "40")}, {"A": "10"}, "250", [("A", "sell", "40")]),
}


@pytest.mark.parametrize("positions,prices,deficit,expected", LIQUIDATION_PLANS.values(), ids=LIQUIDATION_PLANS.keys())
def test_liquidation_plan(positions, prices, deficit, expected, settings):
    settings.TRADEX_MAINTENANCE = D("0.25")
    plan = liquidation_plan({s: (D(q), D(a)) for s, (q, a) in positions.items()}, {s: D(p) for s, p in prices.items()},
                            {}, D(deficit))
    assert plan == [Liquidation(s, side, D(q)) for s, side, q in expected]


def test_the_account_shows_the_house_requirement_the_monitor_uses(borrower):
    from rest_framework.test import APIClient

    SymbolMargin.objects.create(symbol="AAPL", maintenance=D("0.40"))
    last_price_set("AAPL", D("80"))
    client = APIClient()
    client.force_authenticate(borrower.user)
    assert client.get("/v2/account").json()["maintenance_margin"] == "6400"  # 40 % of 200 x 80


def test_a_non_marginable_symbol_is_bought_with_the_full_price_on_margin(aapl):
    """A 100 % house rate: a margin account with 10,000 can buy 100 shares at 100, not the 200 that
    Reg T's 50 % would allow, so the purchase never opens below its own maintenance requirement."""
    SymbolMargin.objects.create(symbol="AAPL", maintenance=D("1"))
    account, _, _ = account_create(username="marginer", cash=D(10000), account_type="margin")
    order = dict(symbol="AAPL", side="buy", order_type="limit", time_in_force="day", limit_price="100")

    with pytest.raises(Refused) as exc:
        order_place(account_id=account.pk, actor="test", qty="101", **order)
    assert exc.value.reason == "insufficient_buying_power"
    placed = order_place(account_id=account.pk, actor="test", qty="100", **order)
    assert placed.reserved_cash == D("10000.00")


def test_the_pushed_figures_are_the_accounts_and_a_price_that_is_not_positive_is_ignored(borrower):
    """The monitor's push uses GET /v2/account's arithmetic (house rates in the initial margin),
    and treats a price of 0 from the feed as no price, as pre-trade risk does."""
    from rest_framework.test import APIClient

    SymbolMargin.objects.create(symbol="AAPL", maintenance=D("0.60"))
    last_price_set("AAPL", D("80"))
    published = []
    monitor = monitor_for(published)
    monitor.on_prices({"AAPL": D("0")})
    assert monitor.prices["AAPL"] == D("80") and monitor.stats["price_updates"] == 0
    monitor.pending_push.add(borrower.pk)
    monitor.flush_pushes(now=10**9)
    pushed = published[-1][1]
    client = APIClient()
    client.force_authenticate(Account.objects.get(pk=borrower.pk).user)  # the fixture's is from before the trade
    shown = client.get("/v2/account").json()
    for field in ("equity", "long_market_value", "initial_margin", "maintenance_margin"):
        assert D(pushed[field]) == D(shown[field]), field
    assert D(shown["initial_margin"]) == 200 * 80 * D("0.60")
