"""Historical trades and quotes from the tick store: alpaca-py's get_stock_trades / get_stock_quotes
against a live server, paging that returns every row once, and clear errors."""
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import numpy as np
import pytest
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockQuotesRequest, StockTradesRequest
from django.conf import settings
from rest_framework.test import APIClient

from marketdata.feed.handler import tickstore_write
from marketdata.models import FeedSymbol, FeedVenue
from tests.factories import make_account_with_key, make_asset

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("empty_tick_store")]
T0 = datetime(2026, 3, 10, 14, 30, tzinfo=timezone.utc)


@pytest.fixture
def ticks():
    """AAPL: 25 trades and 25 quotes one second apart on two venues; MSFT: 5 trades."""
    for symbol in ("AAPL", "MSFT"):
        make_asset(symbol, price="100.00")
    ids = {s.symbol: s.id for s in FeedSymbol.objects.bulk_create([FeedSymbol(symbol="AAPL"), FeedSymbol(symbol="MSFT")])}
    venues = [v.id for v in FeedVenue.objects.bulk_create([FeedVenue(name="SIMA"), FeedVenue(name="SIMB")])]
    t0 = int(T0.timestamp()) * 10**9

    def cols(symbol, n, first_seq):
        i = np.arange(n)
        return {"ts": t0 + i * 10**9, "symbol_id": np.full(n, ids[symbol], dtype=np.int32),
                "venue_id": np.array([venues[k % 2] for k in range(n)], dtype=np.int16),
                "seq": first_seq + i, "price": 100_000_000 + i * 10_000, "size": np.full(n, 10_000_000)}

    trades = {k: np.concatenate([cols("AAPL", 25, 1)[k], cols("MSFT", 5, 100)[k]]) for k in cols("AAPL", 1, 1)}
    q = cols("AAPL", 25, 1000)
    quotes = {"ts": q["ts"], "symbol_id": q["symbol_id"], "venue_id": q["venue_id"], "seq": q["seq"],
              "bid": q["price"], "bid_size": q["size"], "ask": q["price"] + 10_000, "ask_size": q["size"]}
    tickstore_write(quotes, trades)


@pytest.fixture
def api():
    _, key_id, secret = make_account_with_key()
    client = APIClient()
    client.credentials(HTTP_APCA_API_KEY_ID=key_id, HTTP_APCA_API_SECRET_KEY=secret)
    return client


@pytest.mark.live
def test_alpaca_py_reads_historical_trades_and_quotes(ticks, live_server, monkeypatch):
    monkeypatch.setitem(settings.DATABASES["default"], "CONN_MAX_AGE", 0)
    _, key_id, secret = make_account_with_key()
    client = StockHistoricalDataClient(key_id, secret, url_override=live_server.url)
    end = T0 + timedelta(minutes=1)
    trades = client.get_stock_trades(StockTradesRequest(symbol_or_symbols=["AAPL", "MSFT"], start=T0, end=end))
    assert [len(trades["AAPL"]), len(trades["MSFT"])] == [25, 5]
    first = trades["AAPL"][0]
    assert (first.price, first.size, first.exchange, first.timestamp) == (100.0, 10.0, "SIMA", T0)
    quotes = client.get_stock_quotes(StockQuotesRequest(symbol_or_symbols="AAPL", start=T0, end=end, limit=7))
    assert len(quotes["AAPL"]) == 7
    assert (quotes["AAPL"][6].bid_price, quotes["AAPL"][6].ask_price) == (100.06, 100.07)


@pytest.mark.parametrize("sort", ["asc", "desc"])
def test_paging_returns_every_row_once(ticks, api, sort):
    seen, token = [], None
    while True:
        url = f"/v2/stocks/trades?symbols=AAPL,MSFT&start=2026-03-10&limit=7&sort={sort}"
        body = api.get(url + (f"&page_token={token}" if token else "")).json()
        seen += [(s, t["i"]) for s, rows in body["trades"].items() for t in rows]
        token = body["next_page_token"]
        if not token:
            break
    expected = [("AAPL", i) for i in range(1, 26)] + [("MSFT", i) for i in range(100, 105)]
    if sort == "desc":
        expected = [("AAPL", i) for i in range(25, 0, -1)] + [("MSFT", i) for i in range(104, 99, -1)]
    assert seen == expected
    single = json.loads(api.get("/v2/stocks/AAPL/trades?start=2026-03-10&limit=3").content, parse_float=Decimal)
    assert [t["p"] for t in single["trades"]] == [100, Decimal("100.01"), Decimal("100.02")]  # exact decimals


@pytest.mark.parametrize("url, status, reason", [
    ("/v2/stocks/trades?start=2026-03-10", 422, "missing_symbols"),
    ("/v2/stocks/trades?symbols=NOPE&start=2026-03-10", 422, "unknown_symbol"),
    ("/v2/stocks/NOPE/quotes", 404, "unknown_symbol"),
    ("/v2/stocks/AAPL/quotes?limit=10001", 422, "invalid_limit"),
    ("/v2/stocks/AAPL/quotes?start=yesterday", 422, "invalid_start"),
    ("/v2/stocks/AAPL/trades?page_token=bm9wZQ", 422, "invalid_page_token"),
])
def test_bad_requests_get_a_clear_reason(ticks, api, url, status, reason):
    response = api.get(url)
    assert response.status_code == status and response.json()["reason"] == reason
