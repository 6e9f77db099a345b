"""A symbol moving more than 10 % within 5 minutes halts at the venue until resumed."""
from decimal import Decimal as D

from exchange_sim import Accepted, Halted, Rejected, Resumed


def buy(venue, cl, price="99.00", symbol="AAPL"):
    return venue.new_order(owner="alice", cl_ord_id=cl, symbol=symbol, side="buy", ord_type="limit", qty=D(10),
                           price=D(price), tif="day")


def test_a_move_over_ten_percent_within_the_window_halts_and_resume_restores(make_venue, clock):
    venue = make_venue()
    public = []
    venue.add_listener(public.append)
    venue.step(clock.advance(0.25))
    resting = buy(venue, "before")[0]
    assert isinstance(resting, Accepted)

    venue.set_reference("AAPL", venue.reference("AAPL") * D("1.12"))
    venue.step(clock.advance(60))

    [halted] = [e for e in public if isinstance(e, Halted)]
    assert halted.symbol == "AAPL" and halted.reason.startswith("circuit_breaker")
    [refusal] = buy(venue, "during")
    assert isinstance(refusal, Rejected) and refusal.reason == "halted"
    assert venue.order_status(owner="alice", cl_ord_id="before").status == "new", "resting orders stay"
    assert isinstance(buy(venue, "other", "399.00", symbol="MSFT")[0], Accepted), "other symbols trade on"
    assert venue.cancel(owner="alice", cl_ord_id="c1", orig_cl_ord_id="before")[0].reason == "canceled"

    venue.resume("AAPL")

    assert isinstance(public[-1], Resumed) and venue.halted("AAPL") is None
    assert isinstance(buy(venue, "after")[0], Accepted)


def test_the_halt_lifts_itself_after_the_pause(make_venue, clock):
    venue = make_venue(breaker_pause_s=120)
    venue.step(clock.advance(0.25))
    venue.set_reference("AAPL", venue.reference("AAPL") * D("0.88"))
    venue.step(clock.advance(1))
    assert venue.halted("AAPL")

    venue.step(clock.advance(119))
    assert venue.halted("AAPL"), "still within the pause"
    venue.step(clock.advance(1))
    assert venue.halted("AAPL") is None
    assert venue.engine("AAPL").best_ask() is not None, "makers quote again on resumption"


def test_a_slower_move_or_a_smaller_one_does_not_halt(make_venue, clock):
    venue = make_venue()
    venue.step(clock.advance(0.25))
    start = venue.reference("AAPL")
    venue.set_reference("AAPL", start * D("1.08"))
    venue.step(clock.advance(200))
    venue.step(clock.advance(200))  # the start has left the 5-minute window
    venue.set_reference("AAPL", start * D("1.16"))
    venue.step(clock.advance(200))
    assert venue.halted("AAPL") is None


def test_manual_halt_is_indefinite_and_journaled(make_venue, clock):
    venue = make_venue()
    venue.step(clock.advance(0.25))
    venue.halt("MSFT", "news_pending")
    venue.step(clock.advance(3600))
    assert venue.halted("MSFT") == "news_pending"
    venue.close()
    restarted = make_venue()
    assert restarted.halted("MSFT") == "news_pending"
    assert buy(restarted, "x", "399.00", symbol="MSFT")[0].text == "news_pending"
