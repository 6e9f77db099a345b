"""The rule tables: for each rule, cases that must alert and cases that must not, the borderline
ones included (a value exactly at a threshold, one just past it). Pure functions, no database."""
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from surveillance.rules import (
    DEFAULTS,
    ExecEv,
    OrderEv,
    Rule,
    cancel_ratio,
    concentration,
    effective_params,
    marking_close,
    order_to_trade,
    spoofing,
    validate_params,
    wash_trades,
)
from core.errors import InvalidInput

DAY = date(2026, 3, 10)
T0 = datetime(2026, 3, 10, 15, 0, tzinfo=timezone.utc)
CLOSE = datetime(2026, 3, 10, 20, 0, tzinfo=timezone.utc)  # 16:00 New York (EDT)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ex(id, side, qty, price, t, *, account="A1", owner="o1", order=None, symbol="AAPL"):
    return ExecEv(id, order or f"ord-{id}", account, owner, symbol, side, D(str(qty)), D(str(price)), t)


def order(id, side, qty, price, created, canceled=None, *, account="A1", owner="o1", filled=0, type_="limit"):
    return OrderEv(id, account, owner, "AAPL", side, D(str(qty)), None if price is None else D(str(price)), type_,
                   created, canceled, D(str(filled)))


def params(rule, **overrides):
    return effective_params(rule, overrides)


def day_of(t):
    return t.date() == DAY


# ---- wash trades: default window 60 s, tolerance 10 bps, across two accounts of one owner ----

WASH = [
    ("same owner, two accounts, same price, 5 s apart", [
        ex("b", "buy", 100, "50.00", at(0), account="A1"), ex("s", "sell", 100, "50.00", at(5), account="A2")], 1),
    ("exactly at the window (60 s)", [
        ex("b", "buy", 100, "50", at(0), account="A1"), ex("s", "sell", 100, "50", at(60), account="A2")], 1),
    ("just past the window (61 s)", [
        ex("b", "buy", 100, "50", at(0), account="A1"), ex("s", "sell", 100, "50", at(61), account="A2")], 0),
    ("sell first, then buy", [
        ex("s", "sell", 100, "50", at(0), account="A2"), ex("b", "buy", 100, "50", at(30), account="A1")], 1),
    ("price gap exactly 10 bps", [
        ex("b", "buy", 100, "100.00", at(0), account="A1"), ex("s", "sell", 100, "100.10", at(1), account="A2")], 1),
    ("price gap 11 bps", [
        ex("b", "buy", 100, "100.00", at(0), account="A1"), ex("s", "sell", 100, "100.11", at(1), account="A2")], 0),
    ("different owners", [
        ex("b", "buy", 100, "50", at(0), account="A1", owner="o1"),
        ex("s", "sell", 100, "50", at(1), account="B1", owner="o2")], 0),
    ("one account buying and selling (a scalp, not across accounts)", [
        ex("b", "buy", 100, "50", at(0), account="A1"), ex("s", "sell", 100, "50", at(1), account="A1")], 0),
    ("two buys by the owner's two accounts", [
        ex("b", "buy", 100, "50", at(0), account="A1"), ex("s", "buy", 100, "50", at(1), account="A2")], 0),
    ("two pairs", [
        ex("b1", "buy", 100, "50", at(0), account="A1"), ex("s1", "sell", 100, "50", at(1), account="A2"),
        ex("b2", "buy", 100, "50", at(600), account="A1"), ex("s2", "sell", 100, "50", at(601), account="A2")], 2),
]


@pytest.mark.parametrize(("case", "execs", "alerts"), WASH, ids=[c[0] for c in WASH])
def test_wash_trades(case, execs, alerts):
    found = wash_trades(execs, params(Rule.WASH_TRADE), DAY)
    assert len(found) == alerts
    for f in found:
        assert len(f.accounts) == 2 and len(f.execution_ids) == 2


def test_wash_min_qty_is_a_parameter():
    execs = [ex("b", "buy", 5, "50", at(0), account="A1"), ex("s", "sell", 5, "50", at(1), account="A2")]
    assert len(wash_trades(execs, params(Rule.WASH_TRADE, min_qty=5), DAY)) == 1
    assert wash_trades(execs, params(Rule.WASH_TRADE, min_qty=6), DAY) == []


# ---- spoofing: large (>= 50,000) limit orders cancelled within 120 s, trade on the other side
#      within 300 s, filled share <= 10 % ----

BIG = 1000  # 1000 x 60 = 60,000 notional

SPOOF = [
    ("layered bids cancelled after a sell", [
        order("L1", "buy", BIG, 60, at(0), at(40)), order("L2", "buy", BIG, "59.9", at(1), at(41))],
        [ex("x", "sell", 100, 61, at(30))], 1),
    ("the spoof order notional exactly 50,000", [order("L1", "buy", 1000, 50, at(0), at(40))],
        [ex("x", "sell", 100, 51, at(30))], 1),
    ("just under 50,000", [order("L1", "buy", 1000, "49.99", at(0), at(40))],
        [ex("x", "sell", 100, 51, at(30))], 0),
    ("lived exactly 120 s", [order("L1", "buy", BIG, 60, at(0), at(120))],
        [ex("x", "sell", 100, 61, at(30))], 1),
    ("lived 121 s (a resting order)", [order("L1", "buy", BIG, 60, at(0), at(121))],
        [ex("x", "sell", 100, 61, at(30))], 0),
    ("never cancelled", [order("L1", "buy", BIG, 60, at(0), None)], [ex("x", "sell", 100, 61, at(30))], 0),
    ("trade on the same side", [order("L1", "buy", BIG, 60, at(0), at(40))], [ex("x", "buy", 100, 61, at(30))], 0),
    ("the big order 10 % filled (at the limit)", [order("L1", "buy", BIG, 60, at(0), at(40), filled=100)],
        [ex("x", "sell", 100, 61, at(30))], 1),
    ("the big order 11 % filled", [order("L1", "buy", BIG, 60, at(0), at(40), filled=110)],
        [ex("x", "sell", 100, 61, at(30))], 0),
    ("placed 301 s before the trade", [order("L1", "buy", BIG, 60, at(0), at(100))],
        [ex("x", "sell", 100, 61, at(301))], 0),
    ("placed after the trade", [order("L1", "buy", BIG, 60, at(31), at(40))],
        [ex("x", "sell", 100, 61, at(30))], 0),
    ("another owner's orders", [order("L1", "buy", BIG, 60, at(0), at(40), owner="o2", account="B1")],
        [ex("x", "sell", 100, 61, at(30))], 0),
    ("spoof in one account, trade in the owner's other account", [
        order("L1", "buy", BIG, 60, at(0), at(40), account="A2")], [ex("x", "sell", 100, 61, at(30))], 1),
    ("two trades in one episode: one alert", [order("L1", "buy", BIG, 60, at(0), at(60))],
        [ex("x", "sell", 100, 61, at(20)), ex("y", "sell", 100, 61, at(30))], 1),
]


@pytest.mark.parametrize(("case", "orders", "execs", "alerts"), SPOOF, ids=[c[0] for c in SPOOF])
def test_spoofing(case, orders, execs, alerts):
    found = spoofing(orders, execs, params(Rule.SPOOFING), DAY)
    assert len(found) == alerts


def test_layering_needs_min_orders():
    orders = [order("L1", "buy", BIG, 60, at(0), at(40)), order("L2", "buy", BIG, 59, at(1), at(41))]
    execs = [ex("x", "sell", 100, 61, at(30))]
    assert len(spoofing(orders, execs, params(Rule.SPOOFING, min_orders=2), DAY)) == 1
    assert spoofing(orders[:1], execs, params(Rule.SPOOFING, min_orders=2), DAY) == []


def test_a_grown_episode_keeps_its_key():
    first = [order("L1", "buy", BIG, 60, at(0), at(40))]
    execs = [ex("x", "sell", 100, 61, at(30))]
    grown = first + [order("L2", "buy", BIG, 59, at(5), at(45))]
    p = params(Rule.SPOOFING)
    assert spoofing(first, execs, p, DAY)[0].key == spoofing(grown, execs, p, DAY)[0].key


# ---- marking the close: last 10 minutes, >= 25 % of the window's volume, >= 50 bps their way ----

W = CLOSE - timedelta(minutes=10)


def close_case(*, price_at_close="100.60", share_qty=300, other_qty=700, ref="100", when=W + timedelta(minutes=5),
               side="buy", type_="market", limit=None):
    orders = [order("agg", side, share_qty, limit, when, type_=type_),
              order("other", "buy", other_qty, None, W, account="B1", owner="o2", type_="market")]
    execs = [ex("pre", "buy", 100, ref, W - timedelta(minutes=1), account="C1", owner="o3"),
             ex("o", "buy", other_qty, ref, W + timedelta(seconds=10), account="B1", owner="o2", order="other"),
             ex("a", side, share_qty, price_at_close, when, order="agg")]
    return orders, execs


CLOSE_CASES = [
    ("market buys 30 % of the window, +60 bps", close_case(), 1),
    ("move exactly 50 bps", close_case(price_at_close="100.50"), 1),
    ("move 49 bps", close_case(price_at_close="100.49"), 0),
    ("share exactly 25 %", close_case(share_qty=250, other_qty=750), 1),
    ("share 24.9 %", close_case(share_qty=249, other_qty=751), 0),
    ("before the window", close_case(when=W - timedelta(seconds=1)), 0),
    ("after the close", close_case(when=CLOSE + timedelta(seconds=1)), 0),
    ("buying while the price falls", close_case(price_at_close="99.00"), 0),
    ("selling that pushes the close down", close_case(side="sell", price_at_close="99.00"), 1),
    ("a passive limit buy below the reference", close_case(type_="limit", limit="99.00"), 0),
    ("a marketable limit buy", close_case(type_="limit", limit="101.00"), 1),
]


@pytest.mark.parametrize(("case", "events", "alerts"), CLOSE_CASES, ids=[c[0] for c in CLOSE_CASES])
def test_marking_the_close(case, events, alerts):
    orders, execs = events
    assert len(marking_close(orders, execs, params(Rule.MARKING_CLOSE), DAY, CLOSE)) == alerts


# ---- order-to-trade (>= 20 orders, more than 10 per execution) and cancel ratio (> 90 %) ----

def many(n, *, canceled=0, day_offset=0):
    base = T0 + timedelta(days=day_offset)
    return [order(f"o{i}", "buy", 10, 50, base + timedelta(seconds=i), base + timedelta(seconds=i + 1) if i < canceled
                  else None) for i in range(n)]


def fills(n):
    return [ex(f"f{i}", "buy", 10, 50, at(i)) for i in range(n)]


OTR = [
    ("30 orders, 1 execution", many(30), fills(1), 1),
    ("30 orders, 3 executions: exactly 10 (not more)", many(30), fills(3), 0),
    ("31 orders, 3 executions", many(31), fills(3), 1),
    ("19 orders, none executed: below min_orders", many(19), [], 0),
    ("20 orders, none executed", many(20), [], 1),
    ("30 orders placed on another day", many(30, day_offset=1), [], 0),
]


@pytest.mark.parametrize(("case", "orders", "execs", "alerts"), OTR, ids=[c[0] for c in OTR])
def test_order_to_trade(case, orders, execs, alerts):
    assert len(order_to_trade(orders, execs, params(Rule.ORDER_TO_TRADE), DAY, day_of)) == alerts


CANCELS = [
    ("20 orders, 19 cancelled (95 %)", many(20, canceled=19), 1),
    ("20 orders, 18 cancelled: exactly 90 % (not more)", many(20, canceled=18), 0),
    ("19 orders all cancelled: below min_orders", many(19, canceled=19), 0),
    ("20 orders, none cancelled", many(20), 0),
]


@pytest.mark.parametrize(("case", "orders", "alerts"), CANCELS, ids=[c[0] for c in CANCELS])
def test_cancel_ratio(case, orders, alerts):
    assert len(cancel_ratio(orders, params(Rule.CANCEL_RATIO), DAY, day_of)) == alerts


# ---- concentration: >= 50 % of the symbol's executed volume once it reaches 10,000 ----

CONC = [
    ("6,000 of 10,000", [ex("a", "buy", 6000, 50, at(0)), ex("b", "buy", 4000, 50, at(1), account="B1", owner="o2")], 1),
    ("exactly 50 %", [ex("a", "buy", 5000, 50, at(0)), ex("b", "buy", 5000, 50, at(1), account="B1", owner="o2")], 2),
    ("4,999 of 10,000", [ex("a", "buy", 4999, 50, at(0)), ex("b", "buy", 5001, 50, at(1), account="B1", owner="o2")], 1),
    ("all of 9,999: the symbol too thin", [ex("a", "buy", 9999, 50, at(0))], 0),
    ("three even accounts", [ex(str(i), "buy", 4000, 50, at(i), account=f"A{i}", owner=f"o{i}") for i in range(3)], 0),
]


@pytest.mark.parametrize(("case", "execs", "alerts"), CONC, ids=[c[0] for c in CONC])
def test_concentration(case, execs, alerts):
    assert len(concentration(execs, params(Rule.CONCENTRATION), DAY)) == alerts


# ---- parameters ----

def test_params_validated_against_the_defaults():
    assert validate_params("wash_trade", {"window_seconds": "30", "price_tolerance_bps": 2.5}) == {
        "window_seconds": 30, "price_tolerance_bps": "2.5"}
    for bad in ({"nope": 1}, {"window_seconds": 1.5}, {"window_seconds": "x"}, {"price_tolerance_bps": -1},
                {"window_seconds": True}, [1]):
        with pytest.raises(InvalidInput):
            validate_params("wash_trade", bad)
    assert set(DEFAULTS) == set(Rule)
