"""Each /v2 endpoint's happy path, and that every one of them sees only the caller's account."""
from datetime import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from django.test.utils import CaptureQueriesContext

from marketdata.selectors import last_price_set
from orders.models import Order
from orders.services import order_venue_acknowledged
from tests.api.conftest import Trader, fill, write_counts
from tests.factories import make_asset

pytestmark = pytest.mark.django_db
D = Decimal

LIMIT_BUY = {"symbol": "AAPL", "side": "buy", "type": "limit", "time_in_force": "day", "qty": "10",
             "limit_price": "100"}


# --- account --------------------------------------------------------------------------------


def test_account_shows_cash_positions_and_buying_power(alice, aapl):
    # Given 10 AAPL bought at 100, now trading at 110, and an open order holding 500
    alice.buy_filled(qty="10", price="100")
    last_price_set("AAPL", D("110"))
    alice.place(qty="5", limit_price="100")
    # When the account is read
    body = alice.client.get("/v2/account").json()
    # Then cash, market value, equity and buying power are what the user expects, as strings
    assert body["id"] == str(alice.account.pk)
    assert body["status"] == "ACTIVE" and body["currency"] == "USD"
    assert body["cash"] == "9000" and body["settled_cash"] == "10000" and body["unsettled_cash"] == "-1000"
    assert body["reserved_cash"] == "500"
    assert body["long_market_value"] == "1100" and body["short_market_value"] == "0"
    assert body["equity"] == body["portfolio_value"] == "10100"
    assert body["buying_power"] == "8500"  # cash account: cash not held for orders
    assert body["multiplier"] == "1" and body["shorting_enabled"] is False
    assert body["initial_margin"] == "0" and body["trading_blocked"] is False
    assert body["last_equity"] == "10000"  # the shares were bought today: the close's equity was all cash


def test_margin_account_reports_reg_t_figures(aapl):
    trader = Trader(account_type="margin")
    trader.buy_filled(qty="10", price="100")
    body = trader.client.get("/v2/account").json()
    assert body["multiplier"] == "2" and body["shorting_enabled"] is True
    assert body["initial_margin"] == "500" and body["maintenance_margin"] == "250"
    assert body["daytrading_buying_power"] == body["buying_power"]


def test_account_valuation_costs_the_same_for_two_or_twelve_positions(alice):
    """The seed read one price per position (500 calls). Valuation is one positions query and one
    batch price read, whatever the number of positions."""

    def queries_for_account():
        with CaptureQueriesContext(connection) as ctx:
            assert alice.client.get("/v2/account").status_code == 200
        return len(ctx.captured_queries)

    symbols = [f"S{i:02d}" for i in range(12)]
    for symbol in symbols:
        make_asset(symbol, price="10")
    for symbol in symbols[:2]:
        alice.buy_filled(symbol=symbol, qty="1", price="10")
    with_two = queries_for_account()
    for symbol in symbols[2:]:
        alice.buy_filled(symbol=symbol, qty="1", price="10")
    assert queries_for_account() == with_two
    assert len(alice.client.get("/v2/positions").json()) == 12


def test_session_user_reaches_their_own_account(alice, aapl):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(alice.account.user)
    assert client.get("/v2/account").json()["id"] == str(alice.account.pk)


@pytest.mark.parametrize(
    "direction, amount, shown, cash", [("INCOMING", "250.50", "250.5", "10250.5"), ("OUTGOING", "1000", "1000", "9000")]
)
def test_transfer_moves_cash(alice, direction, amount, shown, cash):
    response = alice.client.post("/v2/account/transfers", {"direction": direction, "amount": amount}, format="json")
    assert response.status_code == 200
    assert response.json()["amount"] == shown and response.json()["status"] == "COMPLETE"
    assert alice.client.get("/v2/account").json()["cash"] == cash


# --- orders ---------------------------------------------------------------------------------


def test_place_limit_order(alice, aapl):
    response = alice.client.post("/v2/orders", {**LIMIT_BUY, "client_order_id": "my-1"}, format="json")
    assert response.status_code == 200
    order = response.json()
    assert order["client_order_id"] == "my-1" and order["symbol"] == "AAPL" and order["asset_class"] == "us_equity"
    assert order["status"] == "pending_new" and order["qty"] == "10" and order["limit_price"] == "100"
    assert order["type"] == order["order_type"] == "limit" and order["filled_qty"] == "0"
    assert order["submitted_at"].endswith("Z") and order["reject_reason"] is None
    assert Order.objects.get(pk=order["id"]).account_id == alice.account.pk


def test_json_numbers_are_taken_exactly(alice, aapl):
    """1.1 as a JSON number is 1.1, not 1.100000000000000088817841970012523."""
    body = {"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day", "qty": 1.1}
    response = alice.client.post("/v2/orders", body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["qty"] == "1.1"
    assert Order.objects.get(pk=response.json()["id"]).qty == D("1.1")


def test_retry_with_same_client_order_id_returns_the_first_order(alice, aapl):
    first = alice.client.post("/v2/orders", {**LIMIT_BUY, "client_order_id": "retry"}, format="json").json()
    again = alice.client.post("/v2/orders", {**LIMIT_BUY, "client_order_id": "retry"}, format="json")
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    changed = alice.client.post("/v2/orders", {**LIMIT_BUY, "qty": "11", "client_order_id": "retry"}, format="json")
    assert changed.status_code == 422 and changed.json()["reason"] == "client_order_id_conflict"
    assert Order.objects.filter(account=alice.account).count() == 1


@pytest.mark.parametrize(
    "qty, accepted, refusal",
    [("10", True, None), ("1000", False, "insufficient_buying_power")],
)
def test_dry_run_reports_the_verdict_and_writes_nothing(alice, aapl, qty, accepted, refusal):
    before = write_counts()
    response = alice.client.post("/v2/orders", {**LIMIT_BUY, "qty": qty, "dry_run": True}, format="json")
    assert response.status_code == 200
    verdict = response.json()
    assert verdict["dry_run"] is True and verdict["accepted"] is accepted
    assert verdict["buying_power"] == "10000"
    codes = [r["code"] for r in verdict["refusals"]]
    assert refusal in codes if refusal else codes == []
    if accepted:
        assert verdict["reservation"] == "1000" and verdict["buying_power_after"] == "9000"
        assert verdict["estimated_notional"] == "1000"
    assert write_counts() == before
    assert alice.client.get("/v2/account").json()["reserved_cash"] == "0"


def test_order_list_filters(alice, aapl, msft):
    # Given two open AAPL buys, an open MSFT buy and a canceled stop order
    a1 = alice.place(qty="1")
    a2 = alice.place(qty="2")
    m1 = alice.place(symbol="MSFT", qty="1", limit_price="400")
    canceled = alice.place(qty="3", order_type="stop", limit_price=None, stop_price="120")  # held at the broker
    assert alice.client.delete(f"/v2/orders/{canceled.pk}").status_code == 204

    def ids(query=""):
        response = alice.client.get(f"/v2/orders{query}")
        assert response.status_code == 200
        return [o["id"] for o in response.json()]

    newest_first = [str(o.pk) for o in (m1, a2, a1)]
    assert ids() == newest_first  # default: open, newest first
    assert ids("?status=closed") == [str(canceled.pk)]
    assert len(ids("?status=all")) == 4
    assert ids("?direction=asc") == newest_first[::-1]
    assert ids("?limit=2") == newest_first[:2]
    assert ids("?symbols=msft") == [str(m1.pk)]
    assert ids("?symbols=AAPL,MSFT&side=buy") == newest_first
    assert ids("?side=sell") == []
    a1.refresh_from_db()
    after = a1.created_at.isoformat().replace("+00:00", "Z")
    assert ids(f"?after={after}") == newest_first[:2]
    assert ids(f"?until={after}") == [str(a1.pk)]


def test_order_list_costs_the_same_for_two_or_ten_orders(alice, aapl):
    def queries_for_list():
        with CaptureQueriesContext(connection) as ctx:
            assert alice.client.get("/v2/orders?status=all").status_code == 200
        return len(ctx.captured_queries)

    for _ in range(2):
        order_venue_acknowledged(order_id=alice.place(qty="1").pk, venue="TEST", venue_order_id="V")
    with_two = queries_for_list()
    for _ in range(8):
        order = alice.place(qty="1")
        order_venue_acknowledged(order_id=order.pk, venue="TEST", venue_order_id="V")
        alice.client.patch(f"/v2/orders/{order.pk}", {"limit_price": "99"}, format="json")  # replaced_by shown
    assert Order.objects.filter(status="pending_replace").count() == 8
    assert queries_for_list() == with_two


def test_get_order_by_id_and_by_client_order_id(alice, bob, aapl):
    order = alice.place(client_order_id="abc")
    assert alice.client.get(f"/v2/orders/{order.pk}").json()["client_order_id"] == "abc"
    assert alice.client.get("/v2/orders:by_client_order_id?client_order_id=abc").json()["id"] == str(order.pk)
    assert bob.client.get("/v2/orders:by_client_order_id?client_order_id=abc").status_code == 404
    assert bob.client.get("/v2/orders").json() == []


def test_replace_order(alice, aapl):
    order = alice.place(qty="10", limit_price="100")
    order_venue_acknowledged(order_id=order.pk, venue="TEST", venue_order_id="V1")
    response = alice.client.patch(f"/v2/orders/{order.pk}", {"qty": 5, "limit_price": 99.5}, format="json")
    assert response.status_code == 200, response.json()
    new = response.json()
    assert new["replaces"] == str(order.pk) and new["qty"] == "5" and new["limit_price"] == "99.5"
    old = alice.client.get(f"/v2/orders/{order.pk}").json()
    assert old["status"] == "pending_replace" and old["replaced_by"] == new["id"]


def test_cancel_order(alice, aapl):
    order = alice.place()
    assert alice.client.delete(f"/v2/orders/{order.pk}").status_code == 204
    assert alice.client.get(f"/v2/orders/{order.pk}").json()["status"] == "pending_cancel"
    fill(order, "10", "100")
    order.refresh_from_db()
    assert order.status == "filled"
    response = alice.client.delete(f"/v2/orders/{order.pk}")
    assert response.status_code == 422 and response.json()["reason"] == "order_not_cancelable"


def test_cancel_all_orders_cancels_only_the_callers(alice, bob, aapl):
    mine = [alice.place(qty="1"), alice.place(qty="2")]
    theirs = bob.place(qty="1")
    response = alice.client.delete("/v2/orders")
    assert response.status_code == 207
    results = response.json()
    assert sorted(r["id"] for r in results) == sorted(str(o.pk) for o in mine)
    assert {r["status"] for r in results} == {200}
    assert {r["body"]["status"] for r in results} == {"pending_cancel"}
    theirs.refresh_from_db()
    assert theirs.status == "pending_new"


def test_order_audit_trail_is_complete_and_verified(alice, bob, aapl):
    # Given an order that was filled in two parts
    order = alice.place(qty="10", limit_price="100")
    fill(order, "4", "100")
    fill(order, "6", "100")
    # When its audit trail is read
    response = alice.client.get(f"/v2/orders/{order.pk}/audit")
    # Then it tells the whole journey, hash-linked, and the chain verifies
    assert response.status_code == 200
    audit = response.json()
    assert audit["order_id"] == str(order.pk) and audit["verified"] is True
    actions = [e["action"] for e in audit["events"]]
    assert actions[0] == "order.placed" and len(actions) == 3
    seqs = [e["seq"] for e in audit["events"]]
    assert seqs == sorted(seqs)
    assert all(e["hash"] and e["prev_hash"] and e["actor"] and e["occurred_at"] for e in audit["events"])
    assert bob.client.get(f"/v2/orders/{order.pk}/audit").status_code == 404


# --- positions ------------------------------------------------------------------------------


def test_positions_are_valued_and_per_account(alice, bob, aapl):
    alice.buy_filled(qty="10", price="100")
    alice.place(side="sell", qty="4", limit_price="120")  # holds 4 shares
    last_price_set("AAPL", D("110"))
    positions = alice.client.get("/v2/positions").json()
    assert len(positions) == 1
    p = positions[0]
    assert p["symbol"] == "AAPL" and p["asset_id"] == str(aapl.pk) and p["exchange"] == "NASDAQ"
    assert p["side"] == "long" and p["qty"] == "10" and p["qty_available"] == "6"
    assert p["avg_entry_price"] == "100" and p["current_price"] == "110" and p["lastday_price"] == "98"
    assert p["market_value"] == "1100" and p["cost_basis"] == "1000"
    assert p["unrealized_pl"] == "100" and p["unrealized_plpc"] == "0.1"
    assert p["unrealized_intraday_pl"] == "120"
    assert alice.client.get(f"/v2/positions/{aapl.pk}").json()["qty"] == "10"
    assert alice.client.get("/v2/positions/aapl").json()["qty"] == "10"
    assert bob.client.get("/v2/positions").json() == []
    assert bob.client.get("/v2/positions/AAPL").status_code == 404


def test_closed_positions_are_not_listed(alice, aapl):
    alice.buy_filled(qty="10", price="100")
    sell = alice.place(side="sell", qty="10", order_type="market", limit_price=None)
    fill(sell, "10", "101")
    assert alice.client.get("/v2/positions").json() == []


@pytest.mark.parametrize("query, qty", [("", "10"), ("?qty=3", "3"), ("?percentage=50", "5")])
def test_close_position(alice, bob, aapl, query, qty):
    alice.buy_filled(qty="10", price="100")
    assert bob.client.delete(f"/v2/positions/AAPL{query}").status_code == 404
    response = alice.client.delete(f"/v2/positions/AAPL{query}")
    assert response.status_code == 200, response.json()
    order = response.json()
    assert order["side"] == "sell" and order["type"] == "market" and order["qty"] == qty


def test_close_all_positions(alice, aapl, msft):
    alice.buy_filled(symbol="AAPL", qty="10", price="100")
    alice.buy_filled(symbol="MSFT", qty="2", price="400")
    open_order = alice.place(qty="1")
    response = alice.client.delete("/v2/positions?cancel_orders=true")
    assert response.status_code == 207
    results = {r["symbol"]: r for r in response.json()}
    assert set(results) == {"AAPL", "MSFT"}
    assert results["MSFT"]["status"] == 200 and results["MSFT"]["body"]["qty"] == "2"
    assert results["MSFT"]["order_id"] == results["MSFT"]["body"]["id"]
    open_order.refresh_from_db()
    assert open_order.status == "pending_cancel"


# --- assets, clock, calendar ----------------------------------------------------------------


def test_assets(alice, aapl, msft):
    make_asset("OLD", status="inactive", tradable=False)
    assets = alice.client.get("/v2/assets?status=active").json()
    assert [a["symbol"] for a in assets] == ["AAPL", "MSFT"]
    assert assets[0]["class"] == "us_equity" and assets[0]["tradable"] is True
    assert [a["symbol"] for a in alice.client.get("/v2/assets?status=inactive").json()] == ["OLD"]
    assert alice.client.get(f"/v2/assets/{aapl.pk}").json()["symbol"] == "AAPL"
    assert alice.client.get("/v2/assets/MSFT").json()["id"] == str(msft.pk)


def test_calendar_has_nyse_holidays_and_early_closes(alice):
    days = alice.client.get("/v2/calendar?start=2024-11-25&end=2024-12-02").json()
    assert [d["date"] for d in days] == ["2024-11-25", "2024-11-26", "2024-11-27", "2024-11-29", "2024-12-02"]
    by_date = {d["date"]: d for d in days}
    assert by_date["2024-11-27"] == {"date": "2024-11-27", "open": "09:30", "close": "16:00",
                                         "session_open": "0400", "session_close": "2000"}
    assert by_date["2024-11-29"]["close"] == "13:00" and by_date["2024-11-29"]["session_close"] == "1700"


def test_clock_is_in_new_york_time(alice):
    clock = alice.client.get("/v2/clock").json()
    assert set(clock) == {"timestamp", "is_open", "next_open", "next_close"}
    assert all(clock[k][-6:] in ("-05:00", "-04:00") for k in ("timestamp", "next_open", "next_close"))
    assert datetime.fromisoformat(clock["next_close"]) > datetime.fromisoformat(clock["timestamp"])


# --- activities -----------------------------------------------------------------------------


def test_activities_list_fills_and_cash_movements(alice, bob, aapl):
    # Given a deposit and an order filled in two parts
    alice.client.post("/v2/account/transfers", {"direction": "INCOMING", "amount": "500"}, format="json")
    order = alice.place(qty="10", limit_price="100")
    fill(order, "4", "99")
    fill(order, "6", "100")
    # When all activities are read, newest first
    activities = alice.client.get("/v2/account/activities").json()
    # Then the fills carry their running totals and the cash movements their amounts
    assert [a["activity_type"] for a in activities] == ["FILL", "FILL", "CSD", "CSD"]
    last, first = activities[0], activities[1]
    assert (first["type"], first["qty"], first["cum_qty"], first["leaves_qty"], first["price"]) == (
        "partial_fill", "4", "4", "6", "99")
    assert (last["type"], last["cum_qty"], last["leaves_qty"], last["order_status"]) == ("fill", "10", "0", "filled")
    assert last["order_id"] == str(order.pk) and last["side"] == "buy" and last["symbol"] == "AAPL"
    assert [a["net_amount"] for a in activities[2:]] == ["500", "10000"]
    assert [a["activity_type"] for a in alice.client.get("/v2/account/activities/CSD").json()] == ["CSD", "CSD"]
    assert len(alice.client.get("/v2/account/activities?activity_types=FILL,CSW").json()) == 2
    assert [a["activity_type"] for a in bob.client.get("/v2/account/activities").json()] == ["CSD"]


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_activity_pages_walk_every_activity_once(alice, aapl, direction):
    # Given five fills reported with the same timestamp, and four deposits
    order = alice.place(qty="10", limit_price="100")
    same_time = timezone.now()
    for _ in range(5):
        fill(order, "1", "100", at=same_time)
    for _ in range(3):
        alice.client.post("/v2/account/transfers", {"direction": "INCOMING", "amount": "1"}, format="json")
    everything = alice.client.get(f"/v2/account/activities?direction={direction}").json()
    assert len(everything) == 9
    # When they are read two at a time, each page starting after the previous one's last id
    # Then every activity comes exactly once, in the same order as unpaged
    seen, token = [], None
    while True:
        query = f"?direction={direction}&page_size=2" + (f"&page_token={token}" if token else "")
        page = alice.client.get(f"/v2/account/activities{query}").json()
        if not page:
            break
        seen += [a["id"] for a in page]
        token = page[-1]["id"]
    assert seen == [a["id"] for a in everything]


# --- schema ---------------------------------------------------------------------------------


def test_openapi_schema_is_valid_and_describes_the_api(db):
    from drf_spectacular.validation import validate_schema
    from rest_framework.test import APIClient

    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    assert {"/v2/account", "/v2/orders", "/v2/orders/{order_id}", "/v2/positions", "/v2/clock",
            "/v2/calendar", "/v2/account/activities"} <= set(schema["paths"])
    create = schema["paths"]["/v2/orders"]["post"]
    assert "requestBody" in create and "422" in create["responses"]
    assert {"apiKeyId", "apiSecretKey"} <= set(schema["components"]["securitySchemes"])
