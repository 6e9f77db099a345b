"""Simulated liquidity: market orders fill at realistic prices, resting limits fill when the
market reaches them, quotes replenish, and the walk is shared across venues."""
from decimal import Decimal as D

from exchange_sim import Fill, Quote, SymbolSpec, Trade


def market(venue, cl, qty, side="buy", symbol="AAPL"):
    return venue.new_order(owner="alice", cl_ord_id=cl, symbol=symbol, side=side, ord_type="market", qty=D(qty),
                           tif="day")


def test_a_market_buy_for_500_fills_fully_near_the_reference(make_venue, clock):
    venue = make_venue()
    venue.step(clock.advance(0.25))
    reference = venue.reference("AAPL")

    events = market(venue, "m1", 500)

    fills = [e for e in events if isinstance(e, Fill)]
    assert fills[-1].cum_qty == 500 and fills[-1].leaves_qty == 0
    assert reference < fills[-1].avg_px < reference * D("1.001")  # pays the spread, not more than 10 bp


def test_makers_replenish_after_being_hit(make_venue, clock):
    venue = make_venue()
    venue.step(clock.advance(0.25))
    depth = venue.engine("AAPL").depth("sell")
    market(venue, "m1", 2000)
    assert venue.engine("AAPL").depth("sell") != depth
    venue.step(clock.advance(0.25))
    assert sum(size for _, size in venue.engine("AAPL").depth("sell")) == sum(size for _, size in depth)


def test_a_resting_buy_fills_at_its_limit_when_the_market_comes_down_to_it(make_venue, clock):
    venue = make_venue()
    venue.step(clock.advance(0.25))
    limit = (venue.reference("AAPL") * D("0.99")).quantize(D("0.01"))
    venue.new_order(owner="bob", cl_ord_id="b1", symbol="AAPL", side="buy", ord_type="limit", qty=D(300),
                    price=limit, tif="gtc")
    assert venue.step(clock.advance(0.25)) == []

    venue.set_reference("AAPL", limit * D("0.995"))
    events = venue.step(clock.advance(0.25))

    fills = [e for e in events if isinstance(e, Fill)]
    assert {(e.owner, e.last_px) for e in fills} == {("bob", limit)} and fills[-1].cum_qty == 300
    assert venue.order_status(owner="bob", cl_ord_id="b1").status == "filled"


def test_the_seeded_walk_alone_reaches_resting_limits(make_venue, clock):
    lively = {"AAPL": SymbolSpec(symbol="AAPL", reference_price=D("100.00"), volatility=D("0.001"))}
    venue = make_venue(specs=lively)
    venue.step(clock.advance(0.25))
    limits = {"bob": ("buy", D("99.00")), "carol": ("sell", D("101.00"))}
    for owner, (side, price) in limits.items():
        venue.new_order(owner=owner, cl_ord_id="l1", symbol="AAPL", side=side, ord_type="limit", qty=D(100),
                        price=price, tif="gtc")
    fills = []
    for _ in range(5000):  # bounded; the walk is deterministic for the seed, whichever way it goes
        fills += [e for e in venue.step(clock.advance(0.25)) if isinstance(e, Fill)]
        if fills:
            break
    assert fills and all(e.last_px == limits[e.owner][1] for e in fills)


def test_every_venue_sees_the_same_walk_plus_its_own_noise(make_venue, clock):
    venues = [make_venue(i) for i in range(3)]
    for _ in range(50):
        now = clock.advance(0.25)
        for venue in venues:
            venue.step(now)
    walks = [venue.state()["walk"] for venue in venues]
    assert walks[0][1] == walks[1][1] == walks[2][1], "the shared walk is identical"
    references = [venue.reference("AAPL") for venue in venues]
    assert len(set(references)) > 1, "each venue adds its own noise"
    assert max(references) - min(references) < D("0.20")


def test_public_events_reach_listeners_in_sequence_and_makers_stay_private(make_venue, clock):
    venue = make_venue()
    public = []
    venue.add_listener(public.append)
    venue.step(clock.advance(0.25))
    events = market(venue, "m1", 500)
    assert all(e.owner == "alice" for e in events), "makers produce no private events"
    trades = [e for e in public if isinstance(e, Trade)]
    assert sum(t.qty for t in trades) == 500
    seqs = [e.seq for e in public if isinstance(e, (Trade, Quote))]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert isinstance(public[-1], Quote) and public[-1].ask > public[0].ask
