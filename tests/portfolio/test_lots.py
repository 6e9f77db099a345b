"""Tax lots and realized P&L after sequences of buys, partial sells, shorts and covers, against
hand-computed tables (FIFO by default; specific lots when the selling order names them)."""
from decimal import Decimal

import pytest

from portfolio.models import LotClosure, Position, TaxLot
from portfolio.services import lots_split
from core.errors import InvalidInput

from .conftest import day, trade

D = Decimal

# (fills as (side, qty, price)), then the position: qty, avg entry price, realized P&L, and the
# open lots as (side, remaining qty, price) oldest first.
FIFO_CASES = {
    "two buys, one sell across both lots": (
        [("buy", 10, "100"), ("buy", 10, "110"), ("sell", 15, "120")],
        "5", "110", "250.00", [("long", "5", "110")]),  # 10 x 20 + 5 x 10 (average cost would say 225)
    "sell at a loss from the oldest lot": (
        [("buy", 10, "100"), ("buy", 10, "90"), ("sell", 5, "95")],
        "15", "93.333333", "-25.00", [("long", "5", "100"), ("long", "10", "90")]),
    "partial sells to flat": (
        [("buy", 10, "100"), ("sell", 3, "102"), ("sell", 3, "98"), ("sell", 4, "101")],
        "0", "0", "4.00", []),  # 6 - 6 + 4
    "two shorts, partial cover": (
        [("sell", 10, "100"), ("sell", 10, "104"), ("buy", 15, "98")],
        "-5", "104", "50.00", [("short", "5", "104")]),  # 10 x 2 + 5 x 6
    "long flips short, then covered": (
        [("buy", 10, "100"), ("sell", 15, "105"), ("buy", 5, "103")],
        "0", "0", "60.00", []),  # 10 x 5 closing the long, then 5 x (105 - 103) covering the short
    "short flips long": (
        [("sell", 4, "100"), ("buy", 10, "95")],
        "6", "95", "20.00", [("long", "6", "95")]),
    "fractional shares": (
        [("buy", "0.5", "100"), ("buy", "1.5", "104"), ("sell", "1", "106")],
        "1", "104", "4.00", [("long", "1", "104")]),  # 0.5 x 6 + 0.5 x 2
}


def _check(account, qty, avg, realized, lots):
    position = Position.objects.get(account=account, symbol="AAPL")
    assert (position.qty, position.avg_entry_price, position.realized_pl) == (D(qty), D(avg), D(realized))
    open_lots = TaxLot.objects.filter(position=position, remaining_qty__gt=0).order_by("opened_at", "id")
    assert [(lot.side, lot.remaining_qty, lot.price) for lot in open_lots] == [(s, D(q), D(p)) for s, q, p in lots]
    # The lots and their closures are the position's books: they never disagree with it.
    closures = LotClosure.objects.filter(account=account, symbol="AAPL")
    assert sum((c.realized_pl for c in closures), D(0)) == position.realized_pl
    assert sum((lot.remaining_qty for lot in open_lots), D(0)) == abs(position.qty)


@pytest.mark.parametrize("fills,qty,avg,realized,lots", FIFO_CASES.values(), ids=FIFO_CASES.keys())
def test_fifo_lots_and_realized_pnl(trader, aapl, fills, qty, avg, realized, lots):
    for side, q, price in fills:
        trade(trader, side, q, price)
    _check(trader, qty, avg, realized, lots)


def _lot_ids(account):
    return list(TaxLot.objects.filter(account=account).order_by("opened_at", "id").values_list("pk", flat=True))


# (buys as (qty, price)), lots to sell by index into the buys, the sell (qty, price), then as above.
SPECIFIC_CASES = {
    "the dearest lot first": (
        [(10, "100"), (10, "110")], [1], (10, "105"),
        "10", "100", "-50.00", [("long", "10", "100")]),
    "two named lots, the rest FIFO": (
        [(5, "100"), (5, "90"), (5, "80")], [2, 0], (7, "95"),
        "8", "93.75", "65.00", [("long", "3", "100"), ("long", "5", "90")]),  # 5 x 15 + 2 x (-5)
    "selection smaller than the sale falls back to FIFO": (
        [(5, "100"), (5, "90"), (5, "80")], [1], (8, "95"),
        "7", "85.714286", "10.00", [("long", "2", "100"), ("long", "5", "80")]),  # 5 x 5 + 3 x (-5); (200 + 400) / 7
}


@pytest.mark.parametrize("buys,chosen,sell,qty,avg,realized,lots", SPECIFIC_CASES.values(), ids=SPECIFIC_CASES.keys())
def test_specific_lots_on_the_sell_order(trader, aapl, buys, chosen, sell, qty, avg, realized, lots):
    for q, price in buys:
        trade(trader, "buy", q, price)
    ids = _lot_ids(trader)
    trade(trader, "sell", sell[0], sell[1], lots=[ids[i] for i in chosen])
    _check(trader, qty, avg, realized, lots)


def test_specific_lots_must_be_open_lots_of_the_order(trader, aapl):
    from accounts.models import Account
    from tests.factories import make_account

    trade(trader, "buy", 5, "100")
    other = make_account(cash="100000", account_type="margin")
    trade(other, "buy", 5, "100")
    foreign = _lot_ids(other)[0]
    from orders.services import order_place
    from orders.services import order_lots_select

    order = order_place(account_id=trader.pk, actor="test", symbol="AAPL", side="sell", order_type="limit",
                        time_in_force="day", qty="5", limit_price="100")
    for bad in ([foreign], [], ["1"], [_lot_ids(trader)[0]] * 2):
        with pytest.raises(InvalidInput) as exc:
            order_lots_select(account_id=trader.pk, order_id=order.pk, lot_ids=bad, actor="test")
        assert exc.value.reason == "invalid_lot_ids"
    assert Account.objects.get(pk=trader.pk).status == "ACTIVE"


WASH_CASES = {
    # buy day 0, sell at a loss on day 40, buy again: within 30 days after the sale -> wash sale
    "repurchase 10 days after the loss": ([(0, "buy", 10, "100"), (40, "sell", 10, "90"), (50, "buy", 10, "92")],
                                          True, "100.00"),
    "repurchase of half the shares": ([(0, "buy", 10, "100"), (40, "sell", 10, "90"), (45, "buy", 5, "92")],
                                      True, "50.00"),
    "repurchase 40 days after": ([(0, "buy", 10, "100"), (40, "sell", 10, "90"), (80, "buy", 10, "92")],
                                 False, "0"),
    "purchase 20 days before the loss": ([(0, "buy", 10, "100"), (20, "buy", 10, "95"), (40, "sell", 10, "90")],
                                         True, "100.00"),
    "a gain is never a wash sale": ([(0, "buy", 10, "100"), (40, "sell", 10, "110"), (45, "buy", 10, "105")],
                                    False, "0"),
}


@pytest.mark.parametrize("fills,flagged,disallowed", WASH_CASES.values(), ids=WASH_CASES.keys())
def test_wash_sales_are_flagged_for_the_year_end_report(trader, aapl, fills, flagged, disallowed):
    for n, side, q, price in fills:
        trade(trader, side, q, price, at=day(n))
    closure = LotClosure.objects.get(account=trader)
    assert closure.wash_sale is flagged and closure.wash_sale_disallowed == D(disallowed)
    if flagged:
        assert closure.replacement_lot.wash_sale_adjustment == D(disallowed)


def test_split_multiplies_shares_and_divides_prices(trader, aapl):
    trade(trader, "buy", 10, "100")
    trade(trader, "buy", 10, "110")
    position = lots_split(account=trader, symbol="AAPL", ratio_num=2, ratio_den=1)
    assert (position.qty, position.avg_entry_price) == (D(40), D(52.5))
    assert [(lot.remaining_qty, lot.price) for lot in TaxLot.objects.filter(account=trader).order_by("id")] == \
        [(D(20), D(50)), (D(20), D(55))]
    trade(trader, "sell", 25, "60")  # FIFO across the split lots: 20 x 10 + 5 x 5
    assert Position.objects.get(account=trader).realized_pl == D("225.00")
