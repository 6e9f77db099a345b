"""The circuit breaker as a pure function of (symbol, price, time): when a move trips it, and that
one move trips once. No database, no clock: every time is explicit."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from risk.circuit_breaker import CircuitBreaker, PriceBand, Trip
from tradex.settings.trading import KNOWN_TRADEX_SETTINGS

D = Decimal
T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
WINDOW = timedelta(minutes=5)
PAUSE = timedelta(minutes=5)


def breaker() -> CircuitBreaker:
    return CircuitBreaker(threshold=D("0.10"), window=WINDOW, pause=PAUSE)


def run(ticks, symbol="AAPL", cb=None) -> list[Trip]:
    cb = cb or breaker()
    trips = []
    for seconds, price in ticks:
        trips += cb.observe(symbol, D(price), T0 + timedelta(seconds=seconds))
    return trips


@pytest.mark.parametrize(("ticks", "expected"), [
    # given these (seconds, last trade) prints, then these trips as (reference, price, seconds)
    ([(0, "100"), (60, "109.9")], []),  # 9.9 %
    ([(0, "100"), (60, "110")], []),  # exactly 10 %: "more than" 10 % trips
    ([(0, "100"), (60, "110.01")], [("100", "110.01", 60)]),
    ([(0, "100"), (299, "111")], [("100", "111", 299)]),  # 11 % within 5 minutes
    ([(0, "100"), (300, "111")], [("100", "111", 300)]),  # exactly 5 minutes old still counts
    ([(0, "100"), (301, "111")], []),  # 11 % over 5 min 1 s
    ([(0, "100"), (120, "103"), (240, "106"), (360, "111")], []),  # 11 % spread over 6 minutes
    ([(0, "100"), (120, "89.9")], [("100", "89.9", 120)]),  # a fall of 10.1 %
    ([(0, "100"), (120, "90")], []),  # a fall of exactly 10 %
    ([(0, "100"), (60, "95"), (120, "104.6")], [("95", "104.6", 120)]),  # from the window's low, not the first
    ([(0, "100"), (60, "104"), (120, "93.5")], [("104", "93.5", 120)]),  # from the window's high
    ([(0, "100"), (100, "95"), (401, "104.6")], []),  # the low (t=100) left the window after t=400
])
def test_trips_when_the_move_within_the_window_exceeds_the_threshold(ticks, expected):
    trips = run(ticks)
    assert [(t.reference_price, t.price, (t.at - T0).seconds) for t in trips] == [
        (D(ref), D(price), at) for ref, price, at in expected]


def test_one_move_trips_once_and_a_move_that_goes_on_after_the_pause_trips_again():
    ticks = [(0, "100"), (60, "111"), (70, "115"), (80, "120"), (200, "125"),  # one move, one trip
             (300, "126"), (370, "140")]  # after the pause (t=360): 140 vs the window low, 115 at t=70
    trips = run(ticks)
    assert [(t.price, (t.at - T0).seconds) for t in trips] == [(D("111"), 60), (D("140"), 370)]
    assert trips[1].reference_price == D("115")


def test_after_the_pause_a_calm_symbol_does_not_trip():
    assert len(run([(0, "100"), (60, "111"), (361, "111.5"), (600, "112")])) == 1


def test_symbols_are_independent():
    cb = breaker()
    assert run([(0, "100"), (60, "111")], symbol="AAPL", cb=cb)
    assert run([(0, "50"), (61, "52")], symbol="MSFT", cb=cb) == []
    assert cb.muted("AAPL", T0 + timedelta(seconds=61)) and not cb.muted("MSFT", T0 + timedelta(seconds=61))


def test_a_late_print_counts_as_now_and_keeps_the_window_in_order():
    assert [t.at for t in run([(0, "100"), (60, "101"), (30, "112")])] == [T0 + timedelta(seconds=60)]


def test_prices_must_be_decimals():
    with pytest.raises(TypeError):
        breaker().observe("AAPL", 100.0, T0)


def test_the_trip_carries_what_the_halt_service_takes():
    trip = run([(0, "100"), (60, "111")])[0]
    assert trip.move == D("0.11")
    assert trip.as_kwargs() == {"symbol": "AAPL", "reference_price": D("100"), "price": D("111"),
                                "at": T0 + timedelta(seconds=60)}


def test_configured_from_settings_with_the_documented_defaults():
    cb = CircuitBreaker.from_settings()
    assert (cb.threshold, cb.window, cb.pause) == (D("0.10"), timedelta(seconds=300), timedelta(seconds=300))
    assert {"TRADEX_CIRCUIT_BREAKER_PCT", "TRADEX_CIRCUIT_BREAKER_WINDOW_SECONDS",
            "TRADEX_CIRCUIT_BREAKER_PAUSE_SECONDS"} <= KNOWN_TRADEX_SETTINGS


def test_memory_holds_only_min_and_max_candidates():
    band = PriceBand(WINDOW)
    for i in range(10_000):  # a steady rise: each price is the new max, the low stays the oldest in the window
        band.advance(T0 + timedelta(milliseconds=i))
        band.add(T0 + timedelta(milliseconds=i), D(100) + D(i) / 1000)
    assert band.high == D("109.999") and band.low == D(100)
    assert len(band._highs) == 1


# --- property: the deques agree with a brute-force window ----------------------------------------


def brute_force(ticks, threshold=D("0.10")):
    """The same rule, by rescanning every kept print (O(n) per print)."""
    kept, muted_until, trips, last = [], None, [], None
    for seconds, price in ticks:
        at = T0 + timedelta(seconds=seconds)
        at = max(at, last) if last else at
        last = at
        kept = [(t, p) for t, p in kept if t >= at - WINDOW]
        if muted_until is not None and at < muted_until:
            kept.append((at, price))
            continue
        muted_until = None
        low, high = min((p for _, p in kept), default=None), max((p for _, p in kept), default=None)
        trip = None
        if low is not None and price > low * (1 + threshold):
            trip = (low, price, at)
        elif high is not None and price < high * (1 - threshold):
            trip = (high, price, at)
        if trip:
            trips.append(trip)
            kept, muted_until = [], at + PAUSE
        kept.append((at, price))
    return trips


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(80, 125)), max_size=80))
def test_matches_a_brute_force_window(steps):
    seconds, ticks = 0, []
    for gap, price in steps:
        seconds += gap * 5
        ticks.append((seconds, D(price)))
    assert [(t.reference_price, t.price, t.at) for t in run(ticks)] == brute_force(ticks)
