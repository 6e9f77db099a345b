"""Pre-trade checks as pure functions: rule tables and properties, no database."""
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from risk.buying_power import available_funds, buying_power, order_reservation
from risk.snapshot import AccountSnapshot, Limits, MarketState, OrderIntent, PositionSnapshot
from risk.verdict import evaluate

D = Decimal
LIMITS = Limits(max_order_notional=D("1000000"), max_order_qty=D("100000"), max_position_qty=D("1000000"),
                max_concentration=D("2"), max_open_orders_per_symbol=1000, price_collar=D("0.10"),
                market_buffer=D("0.05"), reg_t_initial=D("0.50"), short_initial=D("1.50"), maintenance=D("0.25"),
                day_trading_policy="intraday_margin", pdt_min_equity=D("25000"))
MARKET = MarketState(prices={"AAPL": D("100"), "MSFT": D("400")})


def snap(cash="10000", kind="cash", status="ACTIVE", reserved="0", positions=(), open_orders=0, day_trades=0, kyc="approved"):
    return AccountSnapshot(account_id="a", account_type=kind, status=status, kyc_status=kyc, settled_cash=D(cash), unsettled_cash=D(0),
                           reserved_cash=D(reserved), positions={p.symbol: p for p in positions},
                           open_orders_for_symbol=open_orders, day_trades_last_5_days=day_trades)


def intent(side="buy", qty="10", order_type="limit", limit="100", symbol="AAPL", **kw):
    return OrderIntent(symbol=symbol, side=side, order_type=order_type, time_in_force="day",
                       qty=D(qty) if qty is not None else None, notional=kw.pop("notional", None),
                       limit_price=D(limit) if limit is not None else None, **kw)


def codes(verdict):
    return [r.code for r in verdict.refusals]


LONG_AAPL_50 = PositionSnapshot("AAPL", qty=D(50), avg_entry_price=D(90))
HOUSE_AAPL_100 = MarketState(prices=MARKET.prices, house_rates={"AAPL": D("1")})
HOUSE_AAPL_75 = MarketState(prices=MARKET.prices, house_rates={"AAPL": D("0.75")})
SHORT_AAPL_10_TODAY = PositionSnapshot("AAPL", qty=D(-10), avg_entry_price=D(100), day_opened_qty=D(10))
LONG_AAPL_10_TODAY = PositionSnapshot("AAPL", qty=D(10), avg_entry_price=D(100), day_opened_qty=D(10))


@pytest.mark.parametrize(("snapshot", "order", "market", "limits", "expected"), [
    # given ..., when ..., then refused with
    (snap(), intent(qty="100"), MARKET, LIMITS, []),
    (snap(), intent(qty="101"), MARKET, LIMITS, ["insufficient_buying_power"]),
    (snap(reserved="9000"), intent(qty="11"), MARKET, LIMITS, ["insufficient_buying_power"]),
    (snap(kind="margin"), intent(qty="200"), MARKET, LIMITS, []),  # Reg T: 2x
    (snap(kind="margin"), intent(qty="201"), MARKET, LIMITS, ["concentration_limit", "insufficient_buying_power"]),
    (snap(status="CLOSED"), intent(), MARKET, LIMITS, ["account_closed"]),
    (snap(status="RESTRICTED"), intent(), MARKET, LIMITS, ["account_restricted"]),
    (snap(kyc="pending"), intent(), MARKET, LIMITS, ["account_not_approved"]),
    (snap(kyc="rejected", positions=[LONG_AAPL_50]), intent(side="sell", qty="50"), MARKET, LIMITS, ["account_not_approved"]),
    (snap(status="RESTRICTED", positions=[LONG_AAPL_50]), intent(side="sell", qty="50"), MARKET, LIMITS, []),
    # a cash account in debit may not sell what it has not paid for (free riding); a margin one may
    (snap(cash="-800", positions=[LONG_AAPL_50]), intent(side="sell", qty="50"), MARKET, LIMITS, ["account_in_debit"]),
    (snap(cash="-800", kind="margin", positions=[LONG_AAPL_50]), intent(side="sell", qty="50"), MARKET, LIMITS, []),
    (snap(), intent(asset_tradable=False), MARKET, LIMITS, ["asset_not_tradable"]),
    (snap(), intent(), MarketState(prices=MARKET.prices, halted_symbols=frozenset({"AAPL"})), LIMITS, ["symbol_halted"]),
    (snap(), intent(), MarketState(prices=MARKET.prices, all_halted=True), LIMITS, ["trading_halted"]),
    (snap(cash="1e9"), intent(qty="20000"), MARKET, replace(LIMITS, max_order_notional=D("1000000")), ["max_order_notional"]),
    (snap(cash="1e9"), intent(qty="100001", limit="1"), MarketState({"AAPL": D("1")}), LIMITS, ["max_order_qty"]),
    (snap(), intent(limit="110.01"), MARKET, LIMITS, ["price_collar"]),
    (snap(), intent(limit="110"), MARKET, LIMITS, []),  # exactly at the collar
    (snap(positions=[LONG_AAPL_50]), intent(side="sell", qty="50", limit="89.99"), MARKET, LIMITS, ["price_collar"]),
    (snap(open_orders=1000), intent(), MARKET, LIMITS, ["max_open_orders"]),
    (snap(), intent(qty="10"), MARKET, replace(LIMITS, max_position_qty=D("5")), ["max_position_qty"]),
    (snap(), intent(qty="60"), MARKET, replace(LIMITS, max_concentration=D("0.5")), ["concentration_limit"]),
    (snap(positions=[LONG_AAPL_50]), intent(side="sell", qty="51"), MARKET, LIMITS, ["insufficient_qty"]),
    (snap(kind="margin"), intent(side="sell", qty="10"), MARKET, LIMITS, []),
    (snap(kind="margin"), intent(side="sell", qty="10", asset_shortable=False), MARKET, LIMITS, ["asset_not_shortable"]),
    (snap(kind="margin"), intent(side="sell", qty="10", asset_easy_to_borrow=False), MARKET, LIMITS, ["hard_to_borrow"]),
    # fractional and notional sells never sell short (Alpaca's rule; docs/fractional.md)
    (snap(kind="margin"), intent(side="sell", qty="0.5", order_type="market", limit=None), MARKET, LIMITS, ["fractional_short"]),
    (snap(kind="margin", positions=[LONG_AAPL_50]), intent(side="sell", qty="50.5", order_type="market", limit=None),
     MARKET, LIMITS, ["fractional_short"]),
    (snap(kind="margin", positions=[LONG_AAPL_50]), intent(side="sell", qty="49.5", order_type="market", limit=None),
     MARKET, LIMITS, []),
    (snap(kind="margin"), intent(side="sell", qty="2", order_type="market", limit=None, notional=D("200")), MARKET,
     LIMITS, ["fractional_short"]),
    (snap(), intent(order_type="market", limit=None, qty="95"), MARKET, LIMITS, []),  # 95 * 105 = 9975
    (snap(), intent(order_type="market", limit=None, qty="96"), MARKET, LIMITS, ["insufficient_buying_power"]),
    (snap(), intent(order_type="market", limit=None, symbol="ZZZZ"), MARKET, LIMITS, ["price_unavailable"]),
    (snap(kind="margin", positions=[PositionSnapshot("ZZZZ", qty=D(1))]), intent(), MARKET, LIMITS, ["price_unavailable"]),
    # a house rate stricter than Reg T's 50 % is what a margin purchase of that symbol reserves
    # (100 % = not marginable), what a short of it takes from equity, and what a holding of it ties up
    (snap(kind="margin"), intent(qty="100"), HOUSE_AAPL_100, LIMITS, []),
    (snap(kind="margin"), intent(qty="101"), HOUSE_AAPL_100, LIMITS, ["insufficient_buying_power"]),
    (snap(kind="margin"), intent(side="sell", qty="150"), MARKET, LIMITS, []),  # 150 x 100 x 50 % from equity
    (snap(kind="margin"), intent(side="sell", qty="150"), HOUSE_AAPL_75, LIMITS, ["insufficient_buying_power"]),
    (snap(kind="margin", positions=[LONG_AAPL_50]), intent(symbol="MSFT", qty="62", limit="400"), MARKET, LIMITS, []),
    (snap(kind="margin", positions=[LONG_AAPL_50]), intent(symbol="MSFT", qty="51", limit="400"), HOUSE_AAPL_100, LIMITS,
     ["insufficient_buying_power"]),
    (snap(kind="margin", positions=[LONG_AAPL_50]), intent(symbol="MSFT", qty="50", limit="400"), HOUSE_AAPL_100, LIMITS, []),
])
def test_rules(snapshot, order, market, limits, expected):
    assert codes(evaluate(snapshot, order, market, limits)) == expected


PDT = replace(LIMITS, day_trading_policy="pdt")


@pytest.mark.parametrize(("cash", "day_trades", "position", "side", "expected"), [
    ("10000", 3, LONG_AAPL_10_TODAY, "sell", ["pattern_day_trader"]),  # 4th day trade, under $25k
    ("10000", 2, LONG_AAPL_10_TODAY, "sell", []),  # only the 3rd
    ("30000", 3, LONG_AAPL_10_TODAY, "sell", []),  # enough equity
    ("10000", 3, LONG_AAPL_50, "sell", []),  # position not opened today: not a day trade
    ("10000", 3, SHORT_AAPL_10_TODAY, "buy", ["pattern_day_trader"]),  # covering a short opened today
])
def test_legacy_pattern_day_trader_rule(cash, day_trades, position, side, expected):
    s = snap(cash=cash, kind="margin", positions=[position], day_trades=day_trades)
    assert codes(evaluate(s, intent(side=side, qty="10"), MARKET, PDT)) == expected


def test_pdt_rule_does_not_apply_to_cash_accounts():
    s = snap(positions=[LONG_AAPL_10_TODAY], day_trades=10)
    assert codes(evaluate(s, intent(side="sell", qty="10"), MARKET, PDT)) == []


def test_intraday_margin_standard_refuses_exposure_beyond_equity():
    """Amended FINRA 4210: intraday exposure must stay within margin equity. A margin account with
    $1,000 of equity holding $3,000 long may grow to $4,000 at 25 % maintenance, not beyond."""
    s = snap(cash="-2000", kind="margin", positions=[PositionSnapshot("AAPL", qty=D(30), avg_entry_price=D(100))])
    lenient_initial = replace(LIMITS, reg_t_initial=D("0.01"), max_concentration=D("100"))
    assert codes(evaluate(s, intent(qty="10", limit="100"), MARKET, lenient_initial)) == []
    assert codes(evaluate(s, intent(qty="11", limit="100"), MARKET, lenient_initial)) == ["intraday_margin_deficit"]


def test_a_check_that_crashes_refuses_the_order(monkeypatch):
    """Invariant 6: fail closed."""
    from risk import checks

    def broken(c):
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(checks, "CHECKS", (broken,))
    monkeypatch.setattr("risk.verdict.CHECKS", (broken,))
    verdict = evaluate(snap(), intent(), MARKET, LIMITS)
    assert not verdict.accepted and codes(verdict) == ["risk_check_failed"]


def test_dry_run_verdict_reports_buying_power_effect():
    v = evaluate(snap(), intent(qty="10"), MARKET, LIMITS)
    assert v.accepted and v.buying_power == D("10000.00") and v.buying_power_after == D("9000.00")
    assert v.reservation.cash == D("1000.00")


money_st = st.decimals(min_value=0, max_value=1_000_000, places=2, allow_nan=False, allow_infinity=False)
qty_st = st.integers(min_value=1, max_value=5000)
price_st = st.decimals(min_value=D("0.01"), max_value=1000, places=2)


@settings(max_examples=300, deadline=None)
@given(cash=money_st, reserved_frac=st.decimals(min_value=0, max_value=1, places=2), kind=st.sampled_from(["cash", "margin"]),
       side=st.sampled_from(["buy", "sell"]), qty=qty_st, price=price_st, held=st.integers(0, 5000))
def test_an_accepted_order_never_takes_buying_power_below_zero(cash, reserved_frac, kind, side, qty, price, held):
    reserved = (cash * reserved_frac).quantize(D("0.01"))
    positions = [PositionSnapshot("AAPL", qty=D(held), avg_entry_price=price)] if held else []
    s = snap(cash=str(cash), kind=kind, reserved=str(reserved), positions=positions)
    market = MarketState(prices={"AAPL": price})
    limits = replace(LIMITS, max_concentration=D("1000"), max_order_notional=D("1e12"), max_order_qty=D("1e9"))
    v = evaluate(s, intent(side=side, qty=str(qty), limit=str(price)), market, limits)
    if v.accepted:
        after = replace(s, reserved_cash=s.reserved_cash + v.reservation.cash)
        assert available_funds(after, market, limits) >= 0
        assert v.buying_power_after >= 0


@settings(max_examples=200, deadline=None)
@given(qty=qty_st, price=price_st, kind=st.sampled_from(["cash", "margin"]))
def test_a_buy_reserves_at_least_its_cost_in_the_accounts_units(qty, price, kind):
    s = snap(cash="1e12", kind=kind)
    r = order_reservation(s, intent(qty=str(qty), limit=str(price)), MarketState({"AAPL": price}), LIMITS)
    cost = qty * price
    assert r.cash >= (cost * LIMITS.reg_t_initial if kind == "margin" else cost)
    assert buying_power(s, MarketState({"AAPL": price}), LIMITS) >= 0
