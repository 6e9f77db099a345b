"""Invariant 8 at the REST boundary: bad input gets a 4xx with a machine-readable reason and
changes nothing."""
import json

import pytest

from tests.api.conftest import write_counts

pytestmark = pytest.mark.django_db

MARKET = {"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day", "qty": "1"}
LIMIT = {**MARKET, "type": "limit", "limit_price": "100"}


def without(body, *fields):
    return {k: v for k, v in body.items() if k not in fields}


@pytest.mark.parametrize(
    "body, status, reason",
    [
        ({**MARKET, "qty": "-1"}, 422, "invalid_qty"),
        ({**MARKET, "qty": "0"}, 422, "invalid_qty"),
        ({**MARKET, "qty": 0}, 422, "invalid_qty"),
        ({**MARKET, "qty": "abc"}, 422, "invalid_qty"),
        ({**MARKET, "qty": "NaN"}, 422, "invalid_qty"),
        ({**MARKET, "qty": "1.0000000001"}, 422, "invalid_qty"),
        ({**MARKET, "symbol": "NOSUCH"}, 422, "unknown_symbol"),
        (without(LIMIT, "limit_price"), 422, "limit_price_required"),
        ({**LIMIT, "limit_price": "100.001"}, 422, "invalid_tick_size"),
        ({**MARKET, "notional": "100"}, 422, "qty_and_notional"),
        (without(MARKET, "qty"), 422, "qty_or_notional_required"),
        ({**MARKET, "stop_loss": {"stop_price": "90"}}, 422, "legs_need_order_class"),
        ({**MARKET, "order_class": "bracket", "take_profit": {"limit_price": "110"}, "stop_loss": {"stop": "90"}},
         422, "invalid_stop_loss"),
        ({**MARKET, "quantity": "1"}, 422, "unknown_field"),
        ({**MARKET, "qty": True}, 422, "wrong_type"),
        ({**MARKET, "qty": {"value": "1"}}, 422, "wrong_type"),
        ({**MARKET, "qty": ["1"]}, 422, "wrong_type"),
        ({**MARKET, "symbol": 123}, 422, "wrong_type"),
        ({**MARKET, "extended_hours": "yes"}, 422, "wrong_type"),
        ({**MARKET, "dry_run": 1}, 422, "wrong_type"),
        ({**MARKET, "side": "hold"}, 422, "invalid_side"),
        ({**MARKET, "type": "iceberg"}, 422, "invalid_type"),
        ({**MARKET, "time_in_force": "forever"}, 422, "invalid_time_in_force"),
        ({**MARKET, "order_class": "bracket"}, 422, "bracket_legs_required"),
        (without(MARKET, "symbol"), 422, "missing_field"),
        ({**MARKET, "symbol": None}, 422, "missing_field"),
        ({**MARKET, "client_order_id": "x" * 129}, 422, "invalid_client_order_id"),
        ([MARKET], 422, "invalid_body"),
        ("AAPL", 422, "invalid_body"),
    ],
)
def test_bad_order_body_is_refused_and_writes_nothing(alice, aapl, body, status, reason):
    before = write_counts()
    response = alice.client.post("/v2/orders", body, format="json")
    assert response.status_code == status, response.json()
    assert response.json()["reason"] == reason
    assert isinstance(response.json()["code"], int) and response.json()["message"]
    assert write_counts() == before


@pytest.mark.parametrize(
    "raw, content_type, status, reason",
    [
        (b"{not json", "application/json", 400, "malformed_json"),
        (b'{"symbol": "AAPL", "qty": NaN}', "application/json", 400, "malformed_json"),
        (b'{"qty": "1", "qty": "1000"}', "application/json", 400, "malformed_json"),
        (b"\xff\xfe{}", "application/json", 400, "malformed_json"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "malformed_json"),
        (b"symbol=AAPL&qty=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ],
)
def test_unparseable_body_is_refused_and_writes_nothing(alice, aapl, raw, content_type, status, reason):
    before = write_counts()
    response = alice.client.post("/v2/orders", raw, content_type=content_type)
    assert response.status_code == status
    assert response.json()["reason"] == reason
    assert write_counts() == before


def test_ten_megabyte_body_is_refused_before_it_is_read(alice, aapl):
    # Given a 10 MB body whose Content-Length says so
    body = json.dumps({**MARKET, "client_order_id": "x" * (10 * 1024 * 1024)}).encode()
    before = write_counts()
    # When it is posted
    response = alice.client.post("/v2/orders", body, content_type="application/json")
    # Then it is refused with 413 and a reason, and nothing is written
    assert response.status_code == 413
    assert response.json()["reason"] == "body_too_large"
    assert write_counts() == before


def test_body_longer_than_its_content_length_claims_is_cut_off(alice, aapl):
    """A client that omits or understates Content-Length is stopped at the limit while reading."""
    from io import BytesIO

    from django.conf import settings
    from rest_framework.exceptions import ParseError

    from core.parsers import DecimalJSONParser
    from core.errors import TradeXError

    class FakeRequest:
        META = {}

    big = BytesIO(b'{"a": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + b'"}')
    with pytest.raises(TradeXError) as exc:
        DecimalJSONParser().parse(big, parser_context={"request": FakeRequest()})
    assert exc.value.http_status == 413
    with pytest.raises(ParseError):
        DecimalJSONParser().parse(BytesIO(b"{"), parser_context={"request": FakeRequest()})


@pytest.mark.parametrize("method", ["get", "delete", "patch"])
def test_another_users_order_is_not_found_and_untouched(alice, bob, aapl, method):
    # Given Alice's open order
    order = alice.place()
    before = write_counts()
    # When Bob reads, cancels or replaces it
    response = getattr(bob.client, method)(f"/v2/orders/{order.pk}", {"qty": "5"} if method == "patch" else None,
                                           format="json")
    # Then it does not exist for him, and nothing changed
    assert response.status_code == 404
    assert response.json()["reason"] == "order_not_found"
    assert write_counts() == before
    order.refresh_from_db()
    assert order.status == "pending_new" and order.qty == 10


@pytest.mark.parametrize(
    "path, reason",
    [
        ("/v2/orders/not-a-uuid", "order_not_found"),
        ("/v2/orders/00000000-0000-0000-0000-000000000000/audit", "order_not_found"),
        ("/v2/orders:by_client_order_id?client_order_id=nope", "order_not_found"),
        ("/v2/positions/AAPL", "position_not_found"),
        ("/v2/assets/NOSUCH", "not_found"),
        ("/v2/no/such/endpoint", "unknown_endpoint"),
    ],
)
def test_missing_things_are_json_404s(alice, aapl, path, reason):
    response = alice.client.get(path)
    assert response.status_code == 404
    assert response.json()["reason"] == reason


@pytest.mark.parametrize(
    "query",
    ["status=pending", "limit=0", "limit=501", "limit=ten", "direction=up", "after=yesterday", "side=short"],
)
def test_bad_order_list_parameters_are_refused(alice, query):
    response = alice.client.get(f"/v2/orders?{query}")
    assert response.status_code == 422
    assert response.json()["reason"] == "invalid_parameter"


@pytest.mark.parametrize(
    "path", ["/v2/account/activities?page_size=101", "/v2/account/activities/NOPE",
             "/v2/account/activities?page_token=garbage", "/v2/calendar?start=2024-13-01"],
)
def test_bad_query_parameters_are_refused(alice, path):
    response = alice.client.get(path)
    assert response.status_code == 422
    assert response.json()["reason"] == "invalid_parameter"


@pytest.mark.parametrize(
    "body, status, reason",
    [
        ({"direction": "INCOMING", "amount": "-5"}, 422, "invalid_amount"),
        ({"direction": "INCOMING", "amount": "0"}, 422, "invalid_amount"),
        ({"direction": "SIDEWAYS", "amount": "5"}, 422, "invalid_direction"),
        ({"direction": "OUTGOING", "amount": "10000.01"}, 403, "insufficient_funds"),
        ({"direction": "INCOMING", "amount": "5", "iban": "x"}, 422, "unknown_field"),
        ({"direction": "INCOMING", "amount": False}, 422, "wrong_type"),
    ],
)
def test_bad_transfer_is_refused_and_writes_nothing(alice, body, status, reason):
    before = write_counts()
    response = alice.client.post("/v2/account/transfers", body, format="json")
    assert response.status_code == status
    assert response.json()["reason"] == reason
    assert write_counts() == before


@pytest.mark.parametrize(
    "headers",
    [{}, {"HTTP_APCA_API_KEY_ID": "TXNOPE", "HTTP_APCA_API_SECRET_KEY": "nope"}, {"HTTP_APCA_API_KEY_ID": "TXNOPE"}],
)
def test_requests_without_valid_keys_are_unauthenticated(db, aapl, headers):
    from rest_framework.test import APIClient

    before = write_counts()
    response = APIClient().post("/v2/orders", MARKET, format="json", **headers)
    assert response.status_code == 401
    assert response.json()["reason"] == "unauthenticated"
    assert write_counts() == before


def test_wrong_key_secret_cannot_use_anothers_key_id(alice, bob):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_APCA_API_KEY_ID=alice.key_id, HTTP_APCA_API_SECRET_KEY=bob.secret)
    assert client.get("/v2/account").status_code == 401


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"side": "sell"}, "unknown_field"),
        ({"qty": "-1"}, "invalid_qty"),
        ({"qty": True}, "wrong_type"),
        ({"limit_price": "99.999"}, "invalid_tick_size"),
        ({"time_in_force": "never"}, "invalid_time_in_force"),
    ],
)
def test_bad_replace_is_refused_and_writes_nothing(alice, aapl, body, reason):
    from orders.services import order_venue_acknowledged

    order = alice.place()
    order_venue_acknowledged(order_id=order.pk, venue="TEST", venue_order_id="V1")
    before = write_counts()
    response = alice.client.patch(f"/v2/orders/{order.pk}", body, format="json")
    assert response.status_code == 422
    assert response.json()["reason"] == reason
    assert write_counts() == before


@pytest.mark.parametrize(
    "query, reason",
    [("?qty=abc", "invalid_qty"), ("?qty=11", "invalid_qty"), ("?percentage=150", "invalid_percentage"),
     ("?qty=1&percentage=50", "qty_and_percentage")],
)
def test_bad_position_close_is_refused_and_writes_nothing(alice, aapl, query, reason):
    alice.buy_filled(qty="10", price="100")
    before = write_counts()
    response = alice.client.delete(f"/v2/positions/AAPL{query}")
    assert response.status_code == 422
    assert response.json()["reason"] == reason
    assert write_counts() == before


def test_signed_in_user_without_an_account_is_refused(db):
    from rest_framework.test import APIClient

    from accounts.models import User

    client = APIClient()
    client.force_login(User.objects.create_user("staff-only"))
    response = client.get("/v2/account")
    assert response.status_code == 403
    assert response.json()["reason"] == "no_account"


# --- the input layer (issue 14, items 2 and 3): found by fuzzing ----------------------------------

STOP = {**MARKET, "type": "stop", "stop_price": "90"}
TRAIL = {**MARKET, "type": "trailing_stop", "trail_price": "5"}
BRACKET = {**MARKET, "order_class": "bracket", "take_profit": {"limit_price": "110"}, "stop_loss": {"stop_price": "90"}}


@pytest.mark.parametrize(
    "body, reason",
    [
        # decimal overflow: refused on the digits, no arithmetic (was a 500)
        ({**MARKET, "qty": "1e999999999"}, "invalid_qty"),
        ({**LIMIT, "limit_price": "1e-999999999"}, "invalid_limit_price"),
        # NUMERIC(20,6) overflow at 10^14 (was a 500 from the database)
        ({**STOP, "stop_price": "1e309"}, "invalid_stop_price"),
        ({**STOP, "stop_price": "100000000000000"}, "invalid_stop_price"),
        ({**TRAIL, "trail_price": "1e14"}, "invalid_trail_price"),
        ({**BRACKET, "take_profit": {"limit_price": "1e309"}}, "invalid_take_profit.limit_price"),
        ({**BRACKET, "stop_loss": {"stop_price": "1e20"}}, "invalid_stop_loss.stop_price"),
        ({**MARKET, "qty": "1000000000000000"}, "invalid_qty"),
        # 30 decimals: refused, not rounded by the column (normalize() rounded them away to 28 digits)
        ({**LIMIT, "limit_price": "100." + "0" * 29 + "1"}, "invalid_limit_price"),
        ({**without(MARKET, "qty"), "notional": "10." + "0" * 29 + "1"}, "invalid_notional"),
        # only ASCII decimal notation is a number (Python's Decimal() reads all of these)
        ({**MARKET, "qty": "٣"}, "invalid_qty"),
        ({**MARKET, "qty": "１"}, "invalid_qty"),
        ({**MARKET, "qty": "1_000"}, "invalid_qty"),
        ({**MARKET, "qty": "+1"}, "invalid_qty"),
        ({**MARKET, "qty": " 1 "}, "invalid_qty"),
        ({**MARKET, "qty": "1\n"}, "invalid_qty"),
        ({**MARKET, "qty": ".5"}, "invalid_qty"),
        ({**LIMIT, "limit_price": "١٠٠"}, "invalid_limit_price"),
        ({**STOP, "stop_price": " 90"}, "invalid_stop_price"),
        ({**MARKET, "symbol": "A" * 17}, "invalid_symbol"),
    ],
)
def test_out_of_range_or_non_ascii_numbers_are_refused_not_stored(alice, aapl, body, reason):
    """Fuzzing: overflowing decimals were 500s, 30 decimals were rounded, "٣" and "+1" were numbers."""
    before = write_counts()
    response = alice.client.post("/v2/orders", body, format="json")
    assert response.status_code == 422, response.content
    assert response.json()["reason"] == reason
    assert isinstance(response.json()["code"], int) and response.json()["message"]
    assert write_counts() == before


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b'{"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day", "qty": 1e999999999}',
         "invalid_qty"),
        (b'{"symbol": "AAPL", "side": "buy", "type": "limit", "time_in_force": "day", "qty": 1, '
         b'"limit_price": 1e-999999999}', "invalid_limit_price"),
        (b'{"symbol": "AAPL", "side": "buy", "type": "stop", "time_in_force": "day", "qty": 1, "stop_price": 1e309}',
         "invalid_stop_price"),
        (b'{"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day", "qty": 1' + b"0" * 4000 + b"}",
         "invalid_qty"),
    ],
)
def test_json_numbers_beyond_their_column_are_refused(alice, aapl, raw, reason):
    """JSON numbers (read as exact decimals) overflowing the column were 500s."""
    before = write_counts()
    response = alice.client.post("/v2/orders", raw, content_type="application/json")
    assert response.status_code == 422, response.content
    assert response.json()["reason"] == reason
    assert write_counts() == before


@pytest.mark.parametrize(
    "field, sent, stored",
    [
        ("qty", "0.000000001", "0.000000001"),
        ("qty", "2.5E-1", "0.25"),
        ("notional", "10.123456789", "10.123456789"),
        ("notional", "1000", "1000"),
    ],
)
def test_fractional_qty_and_notional_to_nine_places_are_stored_exactly(alice, aapl, field, sent, stored):
    """qty and notional take up to 9 decimal places (Alpaca), stored as sent: a 9-place notional was refused."""
    from decimal import Decimal

    from orders.models import Order

    response = alice.client.post("/v2/orders", {**without(MARKET, "qty"), field: sent}, format="json")
    assert response.status_code == 200, response.content
    assert getattr(Order.objects.get(pk=response.json()["id"]), field) == Decimal(stored)


def test_json_number_is_read_exactly(alice, aapl):
    from decimal import Decimal

    from orders.models import Order

    raw = b'{"symbol": "AAPL", "side": "buy", "type": "limit", "time_in_force": "day", "qty": 1e1, "limit_price": 99.5}'
    response = alice.client.post("/v2/orders", raw, content_type="application/json")
    assert response.status_code == 200, response.content
    order = Order.objects.get(pk=response.json()["id"])
    assert (order.qty, order.limit_price) == (Decimal("10"), Decimal("99.5"))


@pytest.mark.parametrize(
    "body, reason",
    [
        ({}, "nothing_to_replace"),
        ({"qty": None, "limit_price": None}, "nothing_to_replace"),
        ({"limit_price": "1e309"}, "invalid_limit_price"),
        ({"limit_price": "99." + "0" * 29 + "1"}, "invalid_limit_price"),
        ({"qty": "٣"}, "invalid_qty"),
    ],
)
def test_replace_that_changes_nothing_or_overflows_is_refused(alice, aapl, body, reason):
    """PATCH /v2/orders/{id} with {} replaced the order with a copy of itself."""
    from orders.services import order_venue_acknowledged

    order = alice.place()
    order_venue_acknowledged(order_id=order.pk, venue="TEST", venue_order_id="V1")
    before = write_counts()
    response = alice.client.patch(f"/v2/orders/{order.pk}", body, format="json")
    assert response.status_code == 422, response.content
    assert response.json()["reason"] == reason
    assert write_counts() == before
    order.refresh_from_db()
    assert order.status == "new"


def alert_count():
    from marketdata.models import PriceAlert

    return PriceAlert.objects.count()


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"symbol": "AAPL", "condition": "above", "price": "0.0000000000001"}, "invalid_price"),
        ({"symbol": "AAPL", "condition": "above", "price": "1e14"}, "invalid_price"),
        ({"symbol": "AAPL", "condition": "above", "price": "1e309"}, "invalid_price"),
        ({"symbol": "AAPL", "condition": "above", "price": "٣"}, "invalid_price"),
        ({"symbol": "AAPL", "condition": "above", "price": " 1"}, "invalid_price"),
    ],
)
def test_bad_alert_is_refused_not_rounded(alice, aapl, body, reason):
    """An alert price of 0.0000000000001 was stored as 0; 10^14 and above were 500s."""
    before = alert_count()
    response = alice.client.post("/v2/alerts", body, format="json")
    assert response.status_code == 422, response.content
    assert response.json()["reason"] == reason
    assert alert_count() == before


@pytest.mark.parametrize(
    "amount, reason",
    [("10.001", "invalid_amount"), ("1e999999999", "invalid_amount"), ("١", "invalid_amount"),
     ("1000000000000000000", "invalid_amount")],
)
def test_transfer_amount_beyond_cents_is_refused_not_rounded(alice, amount, reason):
    before = write_counts()
    response = alice.client.post("/v2/account/transfers", {"direction": "INCOMING", "amount": amount}, format="json")
    assert response.status_code == 422, response.content
    assert response.json()["reason"] == reason
    assert write_counts() == before


def watchlist_counts():
    from accounts.models import Watchlist, WatchlistItem

    return Watchlist.objects.count(), WatchlistItem.objects.count()


@pytest.mark.parametrize(
    "method, path, body, reason",
    [
        ("post", "/v2/watchlists", {"name": "w", "symbols": [1, 2]}, "wrong_type"),
        ("post", "/v2/watchlists", {"name": "w", "symbols": ["AAPL\x00"]}, "invalid_symbols"),
        ("post", "/v2/watchlists", {"name": "w", "symbols": [None]}, "missing_field"),
        ("put", "/v2/watchlists/{id}", {"symbols": [1]}, "wrong_type"),
        ("put", "/v2/watchlists/{id}", {"symbols": ["A" * 17]}, "invalid_symbols"),
    ],
)
def test_bad_watchlist_symbols_are_refused(alice, aapl, method, path, body, reason):
    """Non-string or NUL-bearing watchlist symbols were 500s."""
    watchlist = alice.client.post("/v2/watchlists", {"name": "mine"}, format="json").json()
    before = watchlist_counts()
    response = getattr(alice.client, method)(path.format(id=watchlist["id"]), body, format="json")
    assert response.status_code == 422, response.content
    assert response.json()["reason"] == reason
    assert watchlist_counts() == before


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("get", "/v2/positions/%00", 404),
        ("delete", "/v2/positions/%00", 404),
        ("get", "/v2/assets/%00", 404),
        ("get", "/v2/assets/AA%00PL", 404),
        ("get", "/v2/positions/%00/lots", 404),
        ("get", "/v2/account/activities/%00", 404),
    ],
)
def test_nul_in_path_or_query_is_a_json_error(alice, aapl, method, path, status):
    """A NUL byte in a path (/v2/positions/%00, /v2/assets/%00) reached PostgreSQL: a 500."""
    alice.buy_filled(qty="10", price="100")
    before = write_counts()
    response = getattr(alice.client, method)(path)
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"code", "reason", "message"}
    assert write_counts() == before


@pytest.mark.parametrize("path", ["/v2/alerts?status=", "/v2/assets?status=", "/v2/calendar?start=",
                                  "/v2/documents?type=", "/v2/orders?until=", "/v2/account/activities?until=",
                                  "/v2/account/portfolio/history?pnl_reset="])
def test_an_empty_query_value_is_refused_not_read_as_absent(alice, path):
    """`?status=` was read as no status at all: the caller asked for something and got everything
    (schemathesis: negative data accepted)."""
    response = alice.client.get(path)
    assert response.status_code == 422, response.content
    assert response.json()["reason"] == "invalid_parameter" and "must not be empty" in response.json()["message"]


@pytest.mark.parametrize("query, reason", [("?qty=٣", "invalid_qty"),
                                          ("?percentage=50.0000000001", "invalid_percentage"),
                                          ("?qty=1&force=1", "unknown_parameter")])
def test_position_close_parameters_are_exact(alice, aapl, query, reason):
    alice.buy_filled(qty="10", price="100")
    before = write_counts()
    response = alice.client.delete(f"/v2/positions/AAPL{query}")
    assert response.status_code == 422, response.content
    assert response.json()["reason"] == reason
    assert write_counts() == before


@pytest.mark.parametrize(
    "method, path, body, status, reason",
    [
        ("post", "/v2/orders", {**MARKET, "type": "trailing_stop", "trail_percent": "1e9"}, 422, "invalid_trail_percent"),
        ("post", "/v2/orders", {**without(MARKET, "qty"), "notional": "10.0000000001"}, 422, "invalid_notional"),
        ("post", "/v2/orders", {**MARKET, "qty": "0." + "0" * 29 + "1"}, 422, "invalid_qty"),
        ("post", "/v2/orders", {**MARKET, "qty": "Infinity"}, 422, "invalid_qty"),
        ("post", "/v2/orders", {**MARKET, "symbol": "AA\x00PL"}, 422, "invalid_symbol"),
        ("post", "/v2/orders", {**MARKET, "client_order_id": "a\x00b"}, 422, "invalid_client_order_id"),
        ("post", "/v2/alerts", {"symbol": "AA\x00", "condition": "above", "price": "1"}, 422, "invalid_symbol"),
        ("post", "/v2/alerts", {"symbol": "AAPL", "condition": "sideways", "price": "1"}, 422, "invalid_condition"),
        ("post", "/v2/alerts", {"symbol": "AAPL", "condition": "above", "price": "1", "note": "x"}, 422,
         "unknown_field"),
        ("post", "/v2/watchlists", {"name": "w", "symbols": "AAPL"}, 422, "invalid_symbols"),
        ("post", "/v2/watchlists", {"name": "w\x00"}, 422, "invalid_name"),
        ("get", "/v2/orders/%00", None, 404, None),
        ("get", "/v2/stocks/%00/bars", None, 404, None),
        ("delete", "/v2/watchlists/%00/AAPL", None, 404, None),
        ("get", "/v2/positions/AAPL%01", None, 404, None),
        ("get", "/v2/orders?symbols=AAPL%00", None, 422, "invalid_parameter"),
        ("get", "/v2/assets?exchange=%00", None, 422, "invalid_parameter"),
        ("get", "/v2/orders:by_client_order_id?client_order_id=a%00", None, 422, "invalid_parameter"),
        ("delete", "/v2/positions/AAPL?qty=1e999999999", None, 422, "invalid_qty"),
    ],
)
def test_bad_input_that_was_already_refused_still_is(alice, aapl, method, path, body, status, reason):
    """Fuzzed inputs the earlier checks already refused, kept as guards of the consolidated layer."""
    alice.buy_filled(qty="10", price="100")
    before = write_counts()
    response = getattr(alice.client, method)(path, body, format="json")
    assert response.status_code == status, response.content
    assert set(response.json()) == {"code", "reason", "message"}
    assert reason is None or response.json()["reason"] == reason
    assert write_counts() == before


# --- outages: a JSON 503 that changed nothing, never an HTML 500 ----------------------------------


def nobody_listens() -> str:
    """An address where nothing listens: connections to it are refused (a real socket, no mock)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def redis_down(settings):
    """Call it to make Redis unreachable for the cache, the quote cache and the channel layer
    (setting changes reset their clients: quote_cache's receiver, Django's caches, channels'
    layers); the test's end restores them."""
    def go_down():
        url = f"redis://{nobody_listens()}/0"
        settings.REDIS_URL = url
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": settings.CHANNEL_LAYERS["default"]["BACKEND"],
                                               "CONFIG": {"hosts": [url]}}}
    return go_down


def assert_unavailable(response):
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["reason"] == "service_unavailable" and body["code"] == 50310000 and body["message"]


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("post", "/v2/orders", MARKET),
        ("post", "/v2/orders", {**MARKET, "dry_run": True}),
        ("get", "/v2/stocks/trades/latest?symbols=AAPL", None),
        ("get", "/v2/stocks/AAPL/trades/latest", None),
        ("get", "/v2/stocks/quotes/latest?symbols=AAPL", None),
        ("get", "/v2/stocks/snapshots?symbols=AAPL", None),
        ("get", "/v2/positions", None),
        ("post", "/v2/alerts", {"symbol": "AAPL", "condition": "above", "price": "120"}),
    ],
)
def test_redis_outage_is_a_json_503_that_writes_nothing(alice, aapl, redis_down, method, path, body):
    """A Redis outage gave HTML 500s on orders and latest trades."""
    from django.test import Client

    alice.buy_filled(qty="1", price="100")
    before = write_counts(), alert_count()
    redis_down()
    response = getattr(alice.client, method)(path, body, format="json")
    assert_unavailable(response)
    assert (write_counts(), alert_count()) == before
    # Django's own handler500 path (an error outside a DRF view) is JSON as well.
    plain = Client(raise_request_exception=False).get("/v2/clock", HTTP_APCA_API_KEY_ID=alice.key_id,
                                                       HTTP_APCA_API_SECRET_KEY=alice.secret)
    assert plain["Content-Type"] == "application/json"


def socket_outage_frames(path: str, headers=()) -> tuple[bool, list[dict]]:
    """Connect through the whole ASGI stack; (accepted, every message the server sent up to its close)."""
    from asgiref.sync import async_to_sync
    from channels.testing import WebsocketCommunicator

    from tradex.asgi import application

    async def scenario():
        ws = WebsocketCommunicator(application, path, headers=list(headers))
        connected, _ = await ws.connect(timeout=10)
        sent = []
        while not sent or sent[-1]["type"] != "websocket.close":
            sent.append(await ws.receive_output(timeout=10))
        return connected, sent

    return async_to_sync(scenario)()


@pytest.mark.parametrize("path", ["/stream", "/ws/terminal"])
def test_redis_outage_on_socket_upgrade_says_so_and_closes(redis_down, path):
    """A Redis outage failed WebSocket upgrades with an HTTP 500 and no reason."""
    redis_down()
    connected, sent = socket_outage_frames(path)
    assert connected
    assert [json.loads(m["text"])["reason"] for m in sent[:-1]] == ["service_unavailable"]
    assert sent[-1] == {"type": "websocket.close", "code": 1013}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "method, path, body",
    [("post", "/v2/orders", MARKET), ("get", "/v2/account", None), ("post", "/v2/watchlists", {"name": "w"})],
)
def test_database_outage_is_a_json_503(aapl, method, path, body):
    """A database that does not answer gave HTML 500s: now 503, and nothing was written."""
    from django.db import connection

    from tests.api.conftest import Trader

    alice = Trader()
    before = write_counts()
    saved = {k: connection.settings_dict[k] for k in ("HOST", "PORT", "OPTIONS")}
    host, port = nobody_listens().split(":")
    connection.close()
    connection.close_pool()
    connection.settings_dict.update(HOST=host, PORT=port, OPTIONS={**saved["OPTIONS"], "pool": {
        **saved["OPTIONS"]["pool"], "min_size": 0, "timeout": 1}})
    try:
        response = getattr(alice.client, method)(path, body, format="json")
    finally:
        connection.close()
        connection.close_pool()
        connection.settings_dict.update(saved)
    assert_unavailable(response)
    assert write_counts() == before


@pytest.mark.parametrize(
    "method, path, body, reason",
    [
        ("get", "/v2/orders?limit=٣", None, "invalid_parameter"),
        ("get", "/v2/orders?limit=%205%20", None, "invalid_parameter"),
        ("get", "/v2/orders?limit=1_0", None, "invalid_parameter"),
        ("get", "/v2/account/activities?page_size=%EF%BC%91", None, "invalid_parameter"),
        ("get", "/v2/stocks/bars?symbols=AAPL&timeframe=1Min&limit=٣", None, "invalid_limit"),
        ("get", "/v2/account/tax_lots/realized?year=٢٠٢٤", None, "invalid_parameter"),
    ],
)
def test_integers_are_ascii_digits_within_their_column(alice, aapl, method, path, body, reason):
    """int() read "٣", " 5 " and "1_0" as integers."""
    before = write_counts()
    response = getattr(alice.client, method)(path, body, format="json")
    assert response.status_code == 422, response.content
    assert response.json()["reason"] == reason
    assert write_counts() == before


@pytest.mark.parametrize("path", ["/api/nothing-here", "/stream/x", "/api/schema/x"])
def test_paths_outside_the_v2_catch_all_are_json_404s(alice, path):
    """Paths no URL pattern matched outside /v2/... got Django's HTML 404 page."""
    response = alice.client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["reason"] == "not_found"


def test_a_browser_on_a_missing_page_still_gets_a_page(db):
    from django.test import Client

    response = Client().get("/nothing-here/", HTTP_ACCEPT="text/html,application/xhtml+xml")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
