"""alpaca-py's TradingClient, unchanged, against TradeX over HTTP: every call parses into its
pydantic models and shows what a user of the SDK would see."""
from datetime import date
from decimal import Decimal

import pytest
from alpaca.common.enums import Sort
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import (
    AssetStatus,
    OrderSide,
    OrderStatus,
    PositionSide,
    QueryOrderStatus,
    TimeInForce,
)
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.requests import (
    ClosePositionRequest,
    GetAssetsRequest,
    GetCalendarRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
)
from django.conf import settings

from marketdata.selectors import last_price_set
from orders.models import Order
from orders.services import order_venue_acknowledged
from tests.api.conftest import fill
from tests.factories import make_account_with_key, make_asset

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]
D = Decimal


@pytest.fixture
def client(live_server, monkeypatch):
    # The live server's threads close their database connection after each request (a persistent
    # one would outlive the test database and block dropping it).
    monkeypatch.setitem(settings.DATABASES["default"], "CONN_MAX_AGE", 0)
    make_asset("AAPL", price="100.00", prev_close="99.00")
    make_asset("MSFT", price="400.00")
    account, key_id, secret = make_account_with_key(cash="10000")
    trading = TradingClient(key_id, secret, paper=True, url_override=live_server.url)
    trading.account = account
    return trading


def order_row(order: AlpacaOrder) -> Order:
    return Order.objects.get(pk=order.id)


def test_account(client):
    account = client.get_account()
    assert account.id == client.account.pk and account.account_number == client.account.account_number
    assert account.status == "ACTIVE"
    assert D(account.cash) == D(account.buying_power) == D(account.equity) == D("10000")
    assert account.pattern_day_trader is False and account.trading_blocked is False


def test_orders_from_submit_to_cancel(client):
    # Given a market order by quantity, one by notional and a limit order
    by_qty = client.submit_order(MarketOrderRequest(symbol="AAPL", qty=10, side=OrderSide.BUY,
                                                    time_in_force=TimeInForce.DAY))
    by_notional = client.submit_order(MarketOrderRequest(symbol="AAPL", notional=500, side=OrderSide.BUY,
                                                         time_in_force=TimeInForce.DAY))
    limit = client.submit_order(LimitOrderRequest(symbol="MSFT", qty=2, limit_price=395.5, side=OrderSide.BUY,
                                                  time_in_force=TimeInForce.GTC, client_order_id="lim-1"))
    assert by_qty.status == OrderStatus.PENDING_NEW and D(by_qty.qty) == 10 and by_qty.notional is None
    assert D(by_notional.notional) == 500 and by_notional.qty is None
    assert limit.client_order_id == "lim-1" and D(limit.limit_price) == D("395.5")
    assert limit.time_in_force == TimeInForce.GTC
    # The reservations show in the account at once: 10 x 100 + 5 % market buffer, 500, 2 x 395.50
    assert D(client.get_account().buying_power) == D("10000") - 1050 - 500 - 791

    # When they are listed with filters
    aapl_buys = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, symbols=["AAPL"], side=OrderSide.BUY,
                                                   direction=Sort.ASC, limit=10))
    assert [o.id for o in aapl_buys] == [by_qty.id, by_notional.id]
    assert [o.id for o in client.get_orders(GetOrdersRequest(limit=1))] == [limit.id]
    assert client.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED)) == []
    assert client.get_order_by_id(by_qty.id).symbol == "AAPL"
    assert client.get_order_by_client_id("lim-1").id == limit.id

    # When the venue acknowledges the limit order and the client replaces it
    order_venue_acknowledged(order_id=limit.id, venue="TEST", venue_order_id="V1")
    replacement = client.replace_order_by_id(limit.id, ReplaceOrderRequest(qty=3, limit_price=396.25))
    assert replacement.replaces == limit.id and D(replacement.qty) == 3 and D(replacement.limit_price) == D("396.25")
    assert client.get_order_by_id(limit.id).status == OrderStatus.PENDING_REPLACE

    # When the replacement is canceled, then everything else
    client.cancel_order_by_id(replacement.id)
    assert client.get_order_by_id(replacement.id).status == OrderStatus.PENDING_CANCEL
    fill(order_row(by_qty), "10", "100")
    results = {r.id: r.status for r in client.cancel_orders()}
    # Then the open ones are asked to cancel; the one waiting for its replace cannot be
    assert results == {by_notional.id: 200, limit.id: 422, replacement.id: 200}
    assert client.get_order_by_id(by_qty.id).status == OrderStatus.FILLED
    assert client.get_order_by_id(by_notional.id).status == OrderStatus.PENDING_CANCEL


def test_positions_from_fill_to_close(client):
    # Given 10 AAPL bought at 100 and 2 MSFT at 400, AAPL now at 110
    fill(order_row(client.submit_order(MarketOrderRequest(symbol="AAPL", qty=10, side=OrderSide.BUY,
                                                          time_in_force=TimeInForce.DAY))), "10", "100")
    fill(order_row(client.submit_order(MarketOrderRequest(symbol="MSFT", qty=2, side=OrderSide.BUY,
                                                          time_in_force=TimeInForce.DAY))), "2", "400")
    last_price_set("AAPL", D("110"))

    positions = {p.symbol: p for p in client.get_all_positions()}
    assert set(positions) == {"AAPL", "MSFT"}
    aapl = client.get_open_position("AAPL")
    assert aapl.side == PositionSide.LONG and D(aapl.qty) == 10 and D(aapl.market_value) == 1100
    assert D(aapl.unrealized_pl) == 100 and D(aapl.lastday_price) == 99
    assert client.get_open_position(aapl.asset_id).symbol == "AAPL"
    account = client.get_account()
    assert D(account.cash) == D("10000") - 1000 - 800
    assert D(account.long_market_value) == 1100 + 800 and D(account.equity) == D("10100")

    # When part of AAPL is closed and filled
    close = client.close_position("AAPL", ClosePositionRequest(qty="4"))
    assert close.side == OrderSide.SELL and D(close.qty) == 4
    fill(order_row(close), "4", "110")
    assert D(client.get_open_position("AAPL").qty) == 6

    # When everything is closed
    results = {r.symbol: r for r in client.close_all_positions(cancel_orders=True)}
    assert {s: r.status for s, r in results.items()} == {"AAPL": 200, "MSFT": 200}
    assert D(results["AAPL"].body.qty) == 6 and results["AAPL"].body.side == OrderSide.SELL
    assert D(results["MSFT"].body.qty) == 2

    with pytest.raises(APIError) as exc:
        client.get_open_position("TSLA")
    assert exc.value.status_code == 404


def test_refusals_arrive_as_api_errors(client):
    with pytest.raises(APIError) as exc:
        client.submit_order(MarketOrderRequest(symbol="NOSUCH", qty=1, side=OrderSide.BUY,
                                               time_in_force=TimeInForce.DAY))
    assert exc.value.status_code == 422 and exc.value.code == 42210000 and "NOSUCH" in exc.value.message
    with pytest.raises(APIError) as exc:
        client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1000, limit_price=100, side=OrderSide.BUY,
                                              time_in_force=TimeInForce.DAY))
    assert exc.value.status_code == 403
    assert Order.objects.count() == 0


def test_assets_clock_and_calendar(client):
    symbols = [a.symbol for a in client.get_all_assets(GetAssetsRequest(status=AssetStatus.ACTIVE))]
    assert symbols == ["AAPL", "MSFT"]
    aapl = client.get_asset("AAPL")
    assert aapl.tradable and aapl.asset_class == "us_equity" and client.get_asset(aapl.id).symbol == "AAPL"

    clock = client.get_clock()
    assert clock.next_open > clock.timestamp or clock.is_open
    assert clock.next_close > clock.timestamp

    days = client.get_calendar(GetCalendarRequest(start=date(2024, 12, 23), end=date(2024, 12, 27)))
    assert [d.date.isoformat() for d in days] == ["2024-12-23", "2024-12-24", "2024-12-26", "2024-12-27"]
    christmas_eve = days[1]
    assert (christmas_eve.open.hour, christmas_eve.open.minute) == (9, 30)
    assert christmas_eve.close.hour == 13  # early close
