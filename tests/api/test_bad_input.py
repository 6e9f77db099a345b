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

    from tradex.parsers import DecimalJSONParser
    from tradex.errors import TradeXError

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
