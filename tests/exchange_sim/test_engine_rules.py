"""Matching rules, one example each (given / when / then). Properties live in test_engine_properties."""
from decimal import Decimal as D

import pytest

from exchange_sim import Accepted, Canceled, CancelRejected, Fill, MatchingEngine, Quote, Rejected, SymbolSpec, Trade

SPEC = SymbolSpec(symbol="AAPL", tick=D("0.01"), lot=D("1"), reference_price=D("100.00"))


@pytest.fixture
def book():
    return MatchingEngine(SPEC, fee_per_share=D("0.002"))


def place(book, owner, side, qty, price=None, ord_type="limit", tif="day", cl=None):
    place.n = getattr(place, "n", 0) + 1
    return book.submit(owner=owner, cl_ord_id=cl or f"c{place.n}", side=side, ord_type=ord_type, qty=D(qty),
                       price=None if price is None else D(price), tif=tif)


def fills(events, owner=None):
    return [(e.last_qty, e.last_px) for e in events if isinstance(e, Fill) and (owner is None or e.owner == owner)]


def test_price_then_time_priority_and_trades_print_at_the_resting_price(book):
    first, _ = place(book, "a", "sell", 100, "100.02")
    second, _ = place(book, "b", "sell", 100, "100.01")
    third, _ = place(book, "c", "sell", 100, "100.01")

    _, events = place(book, "x", "buy", 250, "100.05")

    assert [(e.owner, e.last_qty, e.last_px) for e in events if isinstance(e, Fill) and e.owner != "x"] == [
        ("b", D(100), D("100.01")), ("c", D(100), D("100.01")), ("a", D(50), D("100.02"))]
    assert [(t.price, t.qty) for t in events if isinstance(t, Trade)] == [
        (D("100.01"), D(100)), (D("100.01"), D(100)), (D("100.02"), D(50))]
    taker = [e for e in events if isinstance(e, Fill) and e.owner == "x"]
    assert taker[-1].cum_qty == D(250) and taker[-1].leaves_qty == 0
    assert taker[-1].avg_px == D("100.012")  # (200 × 100.01 + 50 × 100.02) / 250
    assert taker[0].fee == D(100) * D("0.002")
    assert first.leaves == 50 and book.best_ask() == (D("100.02"), D(50))


def test_exec_ids_are_unique_and_increasing(book):
    place(book, "a", "sell", 300, "100.00")
    _, events = place(book, "b", "buy", 300, ord_type="market")
    ids = [e.exec_id for e in events if isinstance(e, Fill)]
    assert ids == ["SIM-1", "SIM-2"]


def test_market_order_on_an_empty_side_is_canceled_for_no_liquidity(book):
    order, events = place(book, "a", "buy", 10, ord_type="market")
    assert isinstance(events[0], Accepted)
    assert [(e.reason, e.cum_qty) for e in events if isinstance(e, Canceled)] == [("no_liquidity", 0)]
    assert not order.resting and order.canceled == 10


def test_market_order_partly_filled_cancels_the_rest(book):
    place(book, "a", "sell", 30, "101.00")
    order, events = place(book, "b", "buy", 50, ord_type="market")
    assert fills(events, "b") == [(D(30), D("101.00"))]
    assert [e.reason for e in events if isinstance(e, Canceled)] == ["no_liquidity"]
    assert (order.cum, order.canceled) == (30, 20)


def test_ioc_fills_what_it_can_and_never_rests(book):
    place(book, "a", "sell", 30, "100.00")
    order, events = place(book, "b", "buy", 50, "100.00", tif="ioc")
    assert fills(events, "b") == [(D(30), D("100.00"))]
    assert [e.reason for e in events if isinstance(e, Canceled)] == ["ioc_unfilled"]
    assert not order.resting and book.best_bid() is None


def test_fok_that_cannot_fill_in_full_fills_nothing(book):
    resting, _ = place(book, "a", "sell", 30, "100.00")
    place(book, "a", "sell", 30, "100.10")
    order, events = place(book, "b", "buy", 50, "100.05", tif="fok")
    assert fills(events) == []
    assert [e.reason for e in events if isinstance(e, Canceled)] == ["fok_not_filled"]
    assert resting.leaves == 30 and order.cum == 0


def test_fok_that_can_fill_fills_in_full(book):
    place(book, "a", "sell", 30, "100.00")
    place(book, "a", "sell", 30, "100.05")
    order, events = place(book, "b", "buy", 50, "100.05", tif="fok")
    assert fills(events, "b") == [(D(30), D("100.00")), (D(20), D("100.05"))]
    assert order.cum == 50


def test_self_trade_cancels_the_resting_order_and_matching_goes_on(book):
    own, _ = place(book, "a", "sell", 10, "100.00")
    other, _ = place(book, "b", "sell", 10, "100.00")
    order, events = place(book, "a", "buy", 10, "100.00")
    assert [(e.order_id, e.reason) for e in events if isinstance(e, Canceled)] == [(own.order_id, "self_trade")]
    assert fills(events, "a") == [(D(10), D("100.00"))] and other.leaves == 0


def test_replace_to_a_smaller_size_keeps_priority(book):
    first, _ = place(book, "a", "buy", 100, "99.00", cl="a1")
    second, _ = place(book, "b", "buy", 100, "99.00")
    book.replace(first, cl_ord_id="a2", qty=D(60))
    assert book.orders_at("buy", D("99.00")) == [first, second]
    assert first.cl_ord_id == "a2" and first.cl_ord_ids == ["a1", "a2"]


@pytest.mark.parametrize("qty,price", [("150", None), ("100", "99.01"), ("60", "98.99")])
def test_replace_with_more_size_or_a_new_price_loses_priority(book, qty, price):
    first, _ = place(book, "a", "buy", 100, "99.00")
    second, _ = place(book, "b", "buy", 100, "99.00" if price is None else price)
    book.replace(first, cl_ord_id="r", qty=D(qty), price=None if price is None else D(price))
    assert book.orders_at("buy", D(price or "99.00")) == [second, first]


def test_replace_to_a_crossing_price_trades(book):
    place(book, "a", "sell", 40, "100.00")
    bid, _ = place(book, "b", "buy", 100, "99.00")
    events = book.replace(bid, cl_ord_id="r", qty=D(100), price=D("100.00"))
    assert fills(events, "b") == [(D(40), D("100.00"))]
    assert bid.leaves == 60 and book.best_bid() == (D("100.00"), D(60))


def test_replace_to_no_more_than_filled_cancels_the_remainder(book):
    bid, _ = place(book, "b", "buy", 100, "99.00", cl="b1")
    place(book, "a", "sell", 40, "99.00")
    events = book.replace(bid, cl_ord_id="b2", qty=D(40))
    assert [(e.reason, e.cl_ord_id, e.orig_cl_ord_id) for e in events if isinstance(e, Canceled)] == [
        ("qty_below_filled", "b2", "b1")]
    assert (bid.cum, bid.leaves, bid.canceled, bid.status) == (40, 0, 60, "canceled")


def test_cancel_of_a_done_order_is_too_late(book):
    order, _ = place(book, "a", "buy", 10, "99.00")
    book.cancel(order, cl_ord_id="x1")
    [refusal] = book.cancel(order, cl_ord_id="x2")
    assert isinstance(refusal, CancelRejected) and refusal.reason == "too_late_to_cancel"


@pytest.mark.parametrize("qty,price,reason", [
    ("10", "100.005", "bad_tick"), ("10.5", "100.00", "bad_lot"), ("0", "100.00", "bad_qty"),
    ("-1", "100.00", "bad_qty"), ("10", "0", "bad_price"), ("10", None, "bad_price"),
])
def test_invalid_orders_are_rejected_and_change_nothing(book, qty, price, reason):
    place(book, "a", "sell", 10, "100.00")
    before = book.book_snapshot()
    order, events = place(book, "b", "buy", qty, price)
    assert order is None and [(type(e), e.reason) for e in events] == [(Rejected, reason)]
    assert book.book_snapshot() == before


def test_round_lots_are_enforced():
    book = MatchingEngine(SymbolSpec(symbol="X", lot=D("100"), reference_price=D("10.00")))
    assert place(book, "a", "buy", 150, "10.00")[1][0].reason == "bad_lot"
    assert place(book, "a", "buy", 200, "10.00")[0].leaves == 2  # lots inside the book


def test_floats_are_a_programming_error(book):
    with pytest.raises(TypeError):
        book.submit(owner="a", cl_ord_id="f", side="buy", ord_type="limit", qty=1.0, price=D("1.00"))


def test_a_quote_is_emitted_on_each_top_of_book_change_only(book):
    _, e1 = place(book, "a", "buy", 10, "99.00")
    _, e2 = place(book, "a", "buy", 10, "98.00")  # below the top: no quote
    _, e3 = place(book, "a", "buy", 5, "99.00")   # top size changes
    quotes = [e for e in e1 + e2 + e3 if isinstance(e, Quote)]
    assert [(q.bid, q.bid_size, q.ask, q.seq) for q in quotes] == [(D("99.00"), D(10), None, 1),
                                                                    (D("99.00"), D(15), None, 2)]


def test_makers_requote_keeps_unchanged_quotes_in_place(book):
    book.requote({"mm:AAPL:0": [("buy", D("99.99"), D(100)), ("sell", D("100.01"), D(100))]})
    [bid] = book.orders_at("buy", D("99.99"))
    events = book.requote({"mm:AAPL:0": [("buy", D("99.99"), D(100)), ("sell", D("100.02"), D(100))]})
    assert book.orders_at("buy", D("99.99")) == [bid]
    assert book.depth("sell") == [(D("100.02"), D(100))]
    assert not [e for e in events if not isinstance(e, Quote)]  # makers get no private events
