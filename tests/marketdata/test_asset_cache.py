"""The per-process asset cache is keyed by client input: only real assets may enter it."""
import pytest

from marketdata import selectors
from marketdata.selectors import asset_for_order


@pytest.mark.django_db
def test_unknown_symbols_do_not_grow_the_cache(aapl):
    for i in range(100):
        assert asset_for_order(f"MADEUP{i}") is None
    assert asset_for_order("aapl") == aapl
    assert selectors._assets.keys() == {"AAPL"}
