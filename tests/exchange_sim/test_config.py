from decimal import Decimal

import pytest

from exchange_sim import SymbolSpec, VenueConfig, default_venues, reference_specs


def test_default_venues_are_distinct_and_list_every_symbol():
    venues = default_venues(symbols=["AAPL", "MSFT"], journal_dir="/tmp/j")
    assert [v.name for v in venues] == ["SIMA", "SIMB", "SIMC"]
    assert [v.port for v in venues] == [9870, 9871, 9872]
    assert len({v.fee_per_share for v in venues}) == 3
    assert all(v.symbols == ("AAPL", "MSFT") and v.seed == 42 for v in venues)


@pytest.mark.parametrize("count", [1, 2, 15])
def test_latencies_stay_within_2_to_50_ms(count):
    venues = default_venues(count, symbols=["AAPL"], journal_dir="/tmp/j")
    assert len(venues) == count == len({v.name for v in venues})
    assert all(2 <= v.latency_ms <= 50 for v in venues)


@pytest.mark.parametrize("count", [0, 16])
def test_venue_count_is_1_to_15(count):
    with pytest.raises(ValueError):
        default_venues(count, symbols=["AAPL"], journal_dir="/tmp/j")


def test_floats_are_refused():
    with pytest.raises(TypeError):
        SymbolSpec(symbol="AAPL", reference_price=100.0)
    with pytest.raises(TypeError):
        VenueConfig(name="X", port=1, fee_per_share=0.001, symbols=("A",), seed=1, journal_dir="/tmp")


def test_reference_specs_from_a_price_table():
    specs = reference_specs({"AAPL": Decimal("189.5"), "MSFT": Decimal("410")})
    assert specs["AAPL"].reference_price == Decimal("189.50")
    assert specs["MSFT"].tick == Decimal("0.01") and specs["MSFT"].lot == Decimal("1")
