"""Notional and fractional orders through REST as Alpaca's: POST /v2/orders, the order JSON, the
fills in /v2/account/activities, and a 422 with a reason for what the desk does not take."""
from decimal import Decimal

import pytest

from accounts.house import house_account_id
from accounts.selectors import ledger_balance_mismatches, ledger_unbalanced_entries
from orders.models import Execution, OutboxMessage
from portfolio.models import Position
from tests.api.conftest import write_counts

pytestmark = pytest.mark.django_db
MARKET = {"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day"}
D = Decimal


def test_notional_order_over_rest_is_filled_by_the_house_and_listed_as_a_fill(alice, aapl):
    response = alice.client.post("/v2/orders", {**MARKET, "notional": "5"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "filled" and body["qty"] is None and body["notional"] == "5"
    assert body["filled_qty"] == "0.05" and body["filled_avg_price"] == "100"
    assert not OutboxMessage.objects.exists()

    order = alice.client.get(f"/v2/orders/{body['id']}").json()
    assert order["status"] == "filled" and order["filled_qty"] == "0.05"
    fills = alice.client.get("/v2/account/activities/FILL").json()
    assert [(f["order_id"], f["qty"], f["price"], f["type"], f["leaves_qty"]) for f in fills] == [
        (body["id"], "0.05", "100", "fill", "0")]
    account = alice.client.get("/v2/account").json()
    assert D(account["cash"]) == D("9995")
    positions = alice.client.get("/v2/positions").json()
    assert [(p["symbol"], p["qty"]) for p in positions] == [("AAPL", "0.05")]
    assert Position.objects.get(account_id=house_account_id()).qty == D("-0.05")
    assert not ledger_unbalanced_entries() and not ledger_balance_mismatches()


def test_fractional_qty_with_nine_decimals_over_rest(alice, aapl):
    response = alice.client.post("/v2/orders", {**MARKET, "qty": "0.123456789"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["qty"] == "0.123456789" and response.json()["status"] == "filled"
    assert Execution.objects.get(order_id=response.json()["id"]).venue == "HOUSE"


@pytest.mark.parametrize("body, reason", [
    ({**MARKET, "qty": "0.5", "type": "limit", "limit_price": "100"}, "fractional_market_only"),
    ({**MARKET, "qty": "1.5", "type": "stop", "stop_price": "110"}, "fractional_market_only"),
    ({**MARKET, "qty": "0.5", "time_in_force": "gtc"}, "fractional_day_only"),
    ({**MARKET, "notional": "5", "type": "limit", "limit_price": "100"}, "notional_market_only"),
    ({**MARKET, "notional": "5", "time_in_force": "gtc"}, "fractional_day_only"),
    ({**MARKET, "notional": "5.0000000001"}, "invalid_notional"),  # 9 places at most
    ({**MARKET, "qty": "0.5", "order_class": "bracket", "take_profit": {"limit_price": "120"},
      "stop_loss": {"stop_price": "90"}}, "order_class_whole_qty"),
])
def test_fractional_orders_the_desk_does_not_take_are_refused_with_422(alice, aapl, body, reason):
    before = write_counts()
    response = alice.client.post("/v2/orders", body, format="json")
    assert response.status_code == 422, response.json()
    assert response.json()["reason"] == reason and isinstance(response.json()["code"], int)
    assert write_counts() == before
