"""The market-data REST API (Alpaca v2 stocks), with alpaca-py's StockHistoricalDataClient unchanged
against a live server, and the HTTP contract (paging, aggregation, errors) through the test client."""
import base64
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from alpaca.common.enums import Sort
from alpaca.common.exceptions import APIError
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import (
    StockBarsRequest,
    StockLatestBarRequest,
    StockLatestQuoteRequest,
    StockLatestTradeRequest,
    StockSnapshotRequest,
)
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from marketdata.bars import BarTracker, bars_apply_trades, parse_timeframe
from marketdata.bars import query as bars_query
from marketdata.models import Asset, DailyBar, MinuteBar
from marketdata.selectors import latest_quote_set, latest_trade_set
from marketdata.ticks import TradeTick
from tests.factories import make_account_with_key
from tests.marketdata.bars_fixtures import NOW, seed_bars

UTC = timezone.utc
D = Decimal
START = datetime(2026, 1, 1, tzinfo=UTC)


def db_bars(model, symbol):
    return list(model.objects.filter(symbol=symbol).order_by("start").values_list(
        "start", "open", "high", "low", "close", "volume", "trade_count", "vwap"))


def as_tuple(bar):
    return (bar.timestamp, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.trade_count, bar.vwap)


def floats(row):
    return (row[0], *(float(x) for x in row[1:]))


QUOTE = {"t": "2026-03-11T20:59:58.123456Z", "bx": "SIMA", "bp": "229.99", "bs": "300", "ax": "SIMB", "ap": "230.01",
         "as": "100", "c": ["R"], "z": "C"}
TRADE = {"t": "2026-03-11T20:59:59.5Z", "x": "SIMB", "p": "230.005", "s": "12", "i": 981, "c": ["@"], "z": "C"}


# --- alpaca-py against a live server --------------------------------------------------------------


@pytest.fixture
def data_client(live_server, monkeypatch):
    monkeypatch.setitem(settings.DATABASES["default"], "CONN_MAX_AGE", 0)
    # 31 sessions of 1-minute bars for AAPL (12,090 bars: two pages of alpaca-py's 10,000), 3 for MSFT
    seed_bars(("AAPL",), days=45, minute_days=31)
    seed_bars(("MSFT",), days=45, minute_days=3)
    _account, key_id, secret = make_account_with_key()
    return StockHistoricalDataClient(key_id, secret, url_override=live_server.url)


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_alpaca_py_reads_bars_latest_and_snapshots(data_client):
    # Bars of two symbols: 12,090 1-minute bars of AAPL, two pages the client follows by next_page_token
    barset = data_client.get_stock_bars(StockBarsRequest(symbol_or_symbols=["AAPL", "MSFT"], timeframe=TimeFrame.Minute,
                                                         start=START, end=NOW))
    assert len(barset["AAPL"]) == 31 * 390 and len(barset["MSFT"]) == 3 * 390
    assert [as_tuple(b) for b in barset["AAPL"]] == [floats(r) for r in db_bars(MinuteBar, "AAPL")]
    # Daily bars, newest first, limited
    daily = data_client.get_stock_bars(StockBarsRequest(symbol_or_symbols="MSFT", timeframe=TimeFrame.Day, start=START,
                                                        end=NOW, sort=Sort.DESC, limit=5))
    assert [as_tuple(b) for b in daily["MSFT"]] == [floats(r) for r in db_bars(DailyBar, "MSFT")[::-1][:5]]
    # 15-minute bars aggregated from the minutes
    quarter = data_client.get_stock_bars(StockBarsRequest(symbol_or_symbols="MSFT", start=START, end=NOW,
                                                          timeframe=TimeFrame(15, TimeFrameUnit.Minute)))
    assert len(quarter["MSFT"]) == 3 * 26  # 09:30-16:00 New York is 26 quarter hours
    # Latest quote and trade from the feed's cache; latest bar; snapshots
    latest_quote_set("AAPL", QUOTE)
    latest_trade_set("AAPL", TRADE)
    quote = data_client.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="AAPL"))["AAPL"]
    assert (quote.bid_price, quote.ask_price, quote.bid_size, quote.ask_exchange) == (229.99, 230.01, 300, "SIMB")
    assert quote.timestamp == datetime(2026, 3, 11, 20, 59, 58, 123456, tzinfo=UTC)
    trades = data_client.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols=["AAPL", "MSFT"]))
    assert (trades["AAPL"].price, trades["AAPL"].size, trades["AAPL"].id) == (230.005, 12, 981)
    # MSFT has no cached trade: its last 1-minute bar's close stands in
    assert trades["MSFT"].price == 420.0 and trades["MSFT"].timestamp == datetime(2026, 3, 11, 19, 59, 59, tzinfo=UTC)  # 15:59:59 EDT
    latest_bar = data_client.get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols="MSFT"))["MSFT"]
    assert as_tuple(latest_bar) == floats(db_bars(MinuteBar, "MSFT")[-1])
    snaps = data_client.get_stock_snapshot(StockSnapshotRequest(symbol_or_symbols=["AAPL", "MSFT"]))
    aapl = snaps["AAPL"]
    assert aapl.latest_trade.price == 230.005 and aapl.latest_quote.bid_price == 229.99
    assert as_tuple(aapl.minute_bar) == floats(db_bars(MinuteBar, "AAPL")[-1])
    assert as_tuple(aapl.daily_bar) == floats(db_bars(DailyBar, "AAPL")[-1])
    assert as_tuple(aapl.previous_daily_bar) == floats(db_bars(DailyBar, "AAPL")[-2])
    assert snaps["MSFT"].latest_quote is None
    # An unknown symbol is the client's error, not an empty answer
    with pytest.raises(APIError) as exc:
        data_client.get_stock_bars(StockBarsRequest(symbol_or_symbols=["AAPL", "NOPE"], timeframe=TimeFrame.Day))
    assert exc.value.status_code == 422 and "NOPE" in str(exc.value)


# --- the HTTP contract ---------------------------------------------------------------------------------


@pytest.fixture
def api(db):
    seed_bars(("AAPL", "MSFT"), days=20, minute_days=2)
    _account, key_id, secret = make_account_with_key()
    client = APIClient()
    client.credentials(HTTP_APCA_API_KEY_ID=key_id, HTTP_APCA_API_SECRET_KEY=secret)
    return client


def get(api, url, **params):
    response = api.get(url, params)
    return response.status_code, response.json()


@pytest.mark.parametrize("sort", ["asc", "desc"])
@pytest.mark.parametrize("timeframe", ["1Min", "5Min", "1Hour"])
def test_paging_returns_every_bar_once_in_order(api, sort, timeframe):
    # Given the whole answer in one page
    status, whole = get(api, "/v2/stocks/bars", symbols="MSFT,AAPL", timeframe=timeframe, start="2026-03-01",
                        end=NOW.isoformat(), sort=sort, limit=10000)
    assert status == 200 and whole["next_page_token"] is None and list(whole["bars"]) == ["AAPL", "MSFT"]
    # When it is read 97 bars at a time (pages straddle the two symbols)
    pages, token = {}, None
    while True:
        status, page = get(api, "/v2/stocks/bars", symbols="AAPL,MSFT", timeframe=timeframe, start="2026-03-01",
                           end=NOW.isoformat(), sort=sort, limit=97, **({"page_token": token} if token else {}))
        assert status == 200 and sum(len(v) for v in page["bars"].values()) <= 97
        for symbol, bars in page["bars"].items():
            pages.setdefault(symbol, []).extend(bars)
        token = page["next_page_token"]
        if token is None:
            break
    # Then the pages add up to it exactly, in the order asked
    assert pages == whole["bars"]
    times = [b["t"] for b in whole["bars"]["AAPL"]]
    assert times == sorted(times, reverse=sort == "desc") and len(set(times)) == len(times)


@pytest.mark.parametrize("timeframe", ["5Min", "15Min", "1Hour", "4Hour"])
def test_aggregated_bars_are_the_minutes_combined(api, timeframe):
    tf = parse_timeframe(timeframe)
    status, body = get(api, "/v2/stocks/AAPL/bars", timeframe=timeframe, start="2026-03-10", end=NOW.isoformat())
    assert status == 200
    minutes = db_bars(MinuteBar, "AAPL")
    notional = dict(MinuteBar.objects.filter(symbol="AAPL").values_list("start", "notional"))
    expected = {}
    for start, o, h, lo, c, v, n, _vw in minutes:
        key = bars_query._floor(start, tf.step)
        if key < datetime(2026, 3, 10, tzinfo=UTC):
            continue
        e = expected.setdefault(key, {"o": o, "h": h, "l": lo, "c": c, "v": 0, "n": 0, "nt": 0})
        e["h"], e["l"], e["c"] = max(e["h"], h), min(e["l"], lo), c
        e["v"] += v
        e["n"] += n
        e["nt"] += notional[start]
    got = [(b["t"], D(str(b["o"])), D(str(b["h"])), D(str(b["l"])), D(str(b["c"])), b["v"], b["n"], D(str(b["vw"])))
           for b in body["bars"]]
    assert got == [(k.strftime("%Y-%m-%dT%H:%M:%SZ"), e["o"], e["h"], e["l"], e["c"], e["v"], e["n"],
                    (e["nt"] / e["v"]).quantize(D("0.000001"))) for k, e in sorted(expected.items())]


@pytest.mark.parametrize("timeframe", ["1Min", "1Day", "5Min", "1Hour"])
@pytest.mark.parametrize("desc", [False, True])
def test_sqlite_path_gives_the_same_rows(api, timeframe, desc):
    """Embedded mode (SQLite) reads through the ORM and aggregates in Python: same answer."""
    tf = parse_timeframe(timeframe)
    args = (["AAPL", "MSFT"], tf, datetime(2026, 3, 10, tzinfo=UTC), NOW, 500, desc)
    token = ("AAPL", datetime(2026, 3, 10, 15, 0, tzinfo=UTC))
    for tok in (None, token):
        pg = bars_query._query_pg(*args, tok)
        generic = bars_query._query_generic(*args, tok)
        assert pg == generic and pg


def test_bars_from_live_trades_are_served(api):
    t = datetime(2026, 3, 12, 14, 31, 5, tzinfo=UTC)
    bars_apply_trades([TradeTick("AAPL", "SIMA", D("231.5"), D("10"), t, 1),
                       TradeTick("AAPL", "SIMA", D("231.25"), D("30"), t + timedelta(seconds=9), 2)], tracker=BarTracker())
    status, body = get(api, "/v2/stocks/AAPL/bars", timeframe="1Min", start="2026-03-12T14:31:00Z",
                       end="2026-03-12T14:32:00Z")
    assert status == 200 and body["bars"] == [{"t": "2026-03-12T14:31:00Z", "o": 231.5, "h": 231.5, "l": 231.25,
                                               "c": 231.25, "v": 40, "n": 2, "vw": 231.3125}]
    status, body = get(api, "/v2/stocks/AAPL/snapshot")
    assert status == 200 and body["symbol"] == "AAPL" and body["dailyBar"]["t"] == "2026-03-12T04:00:00Z"
    assert body["prevDailyBar"]["t"] == "2026-03-11T04:00:00Z" and body["minuteBar"]["c"] == 231.25


def test_single_symbol_latest_endpoints(api):
    latest_quote_set("MSFT", QUOTE)
    assert get(api, "/v2/stocks/MSFT/quotes/latest") == (200, {"symbol": "MSFT", "quote": {
        "t": "2026-03-11T20:59:58.123456Z", "bx": "SIMA", "bp": 229.99, "bs": 300, "ax": "SIMB", "ap": 230.01, "as": 100,
        "c": ["R"], "z": "C"}})
    status, body = get(api, "/v2/stocks/AAPL/quotes/latest")
    assert status == 404 and body["reason"] == "no_quote"
    # No cached trade and no bars: the asset's last price
    Asset.objects.create(symbol="NEWCO", name="New Co", last_price=D("12.5"))
    status, body = get(api, "/v2/stocks/NEWCO/trades/latest")
    assert status == 200 and body["trade"]["p"] == 12.5 and body["trade"]["s"] == 0
    status, body = get(api, "/v2/stocks/AAPL/bars/latest")
    assert status == 200 and body["bar"]["t"] == "2026-03-11T19:59:00Z"


BAD = "/v2/stocks/bars?symbols=AAPL&timeframe=1Day&"


@pytest.mark.parametrize(("url", "status", "reason"), [
    ("/v2/stocks/bars?timeframe=1Day", 422, "missing_symbols"),
    ("/v2/stocks/bars?symbols=AAPL,NOPE&timeframe=1Day", 422, "unknown_symbol"),
    ("/v2/stocks/bars?symbols=aa%20pl&timeframe=1Day", 422, "invalid_symbols"),
    ("/v2/stocks/NOPE/bars?timeframe=1Day", 404, "unknown_symbol"),
    ("/v2/stocks/NOPE/snapshot", 404, "unknown_symbol"),
    ("/v2/stocks/bars?symbols=AAPL", 422, "invalid_timeframe"),
    (BAD.replace("1Day", "2Day"), 422, "invalid_timeframe"),
    (BAD.replace("1Day", "60Min"), 422, "invalid_timeframe"),
    (BAD + "start=yesterday", 422, "invalid_start"),
    (BAD + "end=2026-13-01", 422, "invalid_end"),
    (BAD + "start=2026-03-02&end=2026-03-01", 422, "invalid_range"),
    (BAD + "limit=0", 422, "invalid_limit"),
    (BAD + "limit=10001", 422, "invalid_limit"),
    (BAD + "limit=ten", 422, "invalid_limit"),
    (BAD + "sort=sideways", 422, "invalid_sort"),
    (BAD + "feed=nyse", 422, "invalid_feed"),
    (BAD + "currency=EUR", 422, "invalid_currency"),
    (BAD + "page_token=bm90LWEtdG9rZW4", 422, "invalid_page_token"),
    ("/v2/stocks/quotes/latest", 422, "missing_symbols"),
    ("/v2/stocks/snapshots?symbols=" + ",".join(f"S{i}" for i in range(201)), 422, "invalid_symbols"),
])
def test_bad_requests_get_a_clear_reason(api, url, status, reason):
    response = api.get(url)
    assert (response.status_code, response.json()["reason"]) == (status, reason)


@pytest.mark.parametrize("url", ["/v2/stocks/bars?symbols=AAPL&timeframe=1Day", "/v2/stocks/AAPL/snapshot",
                                 "/v2/stocks/quotes/latest?symbols=AAPL"])
def test_market_data_needs_credentials(db, url):
    response = APIClient().get(url)
    assert response.status_code == 401 and response.json()["reason"] == "unauthenticated"
    bad = APIClient()
    bad.credentials(HTTP_APCA_API_KEY_ID="TXNOPE", HTTP_APCA_API_SECRET_KEY="wrong")
    assert bad.get(url).status_code == 401


def test_session_login_may_read_market_data(api):
    from accounts.models import User

    client = APIClient()
    client.force_login(User.objects.filter(account__isnull=False).first())
    assert client.get("/v2/stocks/AAPL/bars", {"timeframe": "1Day", "start": "2026-03-01"}).status_code == 200


def test_page_token_is_opaque_and_issued_by_us(api):
    status, body = get(api, "/v2/stocks/AAPL/bars", timeframe="1Min", start="2026-03-10", limit=5, end=NOW.isoformat())
    symbol, start = base64.urlsafe_b64decode(body["next_page_token"]).decode().split("|")
    assert symbol == "AAPL" and start == "2026-03-10T13:34:00+00:00"
    assert connection.vendor == "postgresql"


@pytest.mark.parametrize("timeframe", ["1Min", "1Day", "15Min"])
def test_json_written_by_postgresql_equals_pythons(api, timeframe):
    args = (["AAPL", "MSFT"], parse_timeframe(timeframe), datetime(2026, 3, 9, tzinfo=UTC), NOW, 2000, False, None)
    rows = bars_query._query_pg(*args)
    as_json = bars_query._query_pg(*args, as_json=True)
    assert [(s, t, j) for s, t, j in as_json] == [(r[0], r[1], bars_query.bar_json(r[1:])) for r in rows]
    assert bars_query._query_generic(*args, as_json=True) == as_json
