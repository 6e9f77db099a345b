"""Valuation: GET /v2/positions and GET /v2/account with one query for the positions and one
batch read of the quote cache however many positions (not one price call per position: 500 calls
would take 15-30 s per portfolio page), with figures that alpaca-py's models parse and that match hand
computation."""
from decimal import Decimal

import pytest
from alpaca.trading.models import Position as AlpacaPosition, TradeAccount
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketdata import quote_cache
from marketdata.models import Asset
from marketdata.selectors import LAST_PRICE_KEY, last_price_set
from portfolio.models import Position
from tests.api.conftest import Trader

from .conftest import trade

D = Decimal


def _holdings(account, n: int) -> None:
    """n positions, written directly: this test is about the read path (the write path is
    test_lots'), and 500 orders through the venue would only make it slow."""
    assets = Asset.objects.bulk_create([Asset(symbol=f"S{i:04d}", name=f"S{i:04d}", last_price=D(50),
                                              prev_close=D(49)) for i in range(n)])
    Position.objects.bulk_create([Position(account=account, symbol=a.symbol, asset=a, qty=D(10 if i % 5 else -10),
                                           avg_entry_price=D(45)) for i, a in enumerate(assets)])
    quote_cache.set_many({LAST_PRICE_KEY.format(a.symbol): "51.25" for a in assets})


class CacheReads:
    """Batch reads of the latest-quote cache and of Django's cache, and single-key reads."""

    def __init__(self, monkeypatch):
        self.get_many = self.get = 0
        real_quotes, real_many, real_get = quote_cache.get_many, cache.get_many, cache.get

        def counted(real):
            def read_many(keys, *a, **kw):
                self.get_many += 1
                return real(keys, *a, **kw)
            return read_many

        def get(key, *a, **kw):
            self.get += 1
            return real_get(key, *a, **kw)

        monkeypatch.setattr(quote_cache, "get_many", counted(real_quotes))
        monkeypatch.setattr(cache, "get_many", counted(real_many))
        monkeypatch.setattr(cache, "get", get)


def _measure(trader, path, monkeypatch):
    reads = CacheReads(monkeypatch)
    with CaptureQueriesContext(connection) as queries:
        response = trader.client.get(path)
    assert response.status_code == 200
    monkeypatch.undo()
    return response.json(), len(queries), reads


@pytest.mark.parametrize("path", ["/v2/positions", "/v2/account"])
def test_500_positions_cost_what_one_costs(db, path, monkeypatch):
    small, large = Trader(account_type="margin"), Trader(account_type="margin")
    _holdings(small.account, 1)
    assets = Asset.objects.bulk_create([Asset(symbol=f"L{i:04d}", name="x", last_price=D(50), prev_close=D(49))
                                        for i in range(500)])
    Position.objects.bulk_create([Position(account=large.account, symbol=a.symbol, asset=a, qty=D(10),
                                           avg_entry_price=D(45)) for a in assets])
    quote_cache.set_many({LAST_PRICE_KEY.format(a.symbol): "51.25" for a in assets})
    _, one_queries, one_reads = _measure(small, path, monkeypatch)
    body, many_queries, many_reads = _measure(large, path, monkeypatch)
    assert many_queries == one_queries
    assert (many_reads.get_many, many_reads.get) == (one_reads.get_many, one_reads.get) == (1, 0)
    if path == "/v2/positions":
        assert len(body) == 500
        AlpacaPosition(**body[0])
    else:
        assert D(body["long_market_value"]) == D("256250")  # 500 x 10 x 51.25
        TradeAccount(**body)


def test_500_positions_query_budget(db, django_assert_num_queries):
    """The budget itself: key lookup, positions (with their assets), and for the account also the
    risk limits, the day-trade count and today's lot and cash movements (last_equity). No query per
    position."""
    trader = Trader(account_type="margin")
    _holdings(trader.account, 500)
    with django_assert_num_queries(2):
        assert len(trader.client.get("/v2/positions").json()) == 500
    with django_assert_num_queries(5):
        trader.client.get("/v2/account")


def test_account_and_positions_figures_by_hand(db, aapl):
    from tests.factories import make_asset

    make_asset("MSFT", price="400", prev_close="410")
    trader = Trader(cash="100000", account_type="margin")
    trade(trader.account, "buy", 10, "100")
    trade(trader.account, "buy", 10, "110")
    trade(trader.account, "sell", 5, "400", symbol="MSFT")
    last_price_set("AAPL", D("120"))
    last_price_set("MSFT", D("390"))
    positions = {p["symbol"]: p for p in trader.client.get("/v2/positions").json()}
    aapl_row, msft = positions["AAPL"], positions["MSFT"]
    # AAPL: 20 @ 105, marked 120, closed yesterday at 98
    assert (aapl_row["qty"], aapl_row["avg_entry_price"], aapl_row["cost_basis"], aapl_row["market_value"]) == \
        ("20", "105", "2100", "2400")
    assert (aapl_row["unrealized_pl"], aapl_row["unrealized_plpc"]) == ("300", "0.142857")
    assert (aapl_row["unrealized_intraday_pl"], aapl_row["change_today"]) == ("440", "0.22449")  # 20 x 22; 22 / 98
    # MSFT: short 5 @ 400, marked 390: market value -1950, cost basis -2000, a gain of 50
    assert (msft["side"], msft["qty"], msft["market_value"], msft["cost_basis"], msft["unrealized_pl"]) == \
        ("short", "-5", "-1950", "-2000", "50")
    assert msft["unrealized_intraday_pl"] == "100"  # -5 x (390 - 410)
    account = trader.client.get("/v2/account").json()
    cash = D(100000) - 1000 - 1100 + 2000
    assert D(account["cash"]) == cash
    assert (D(account["long_market_value"]), D(account["short_market_value"])) == (D(2400), D(-1950))
    assert D(account["equity"]) == cash + 2400 - 1950
    assert D(account["maintenance_margin"]) == (D(2400) + D(1950)) * D("0.25")
    assert D(account["last_equity"]) == 100000  # every trade was today: the last close's equity was cash
    TradeAccount(**account)
    for p in positions.values():
        AlpacaPosition(**p)
