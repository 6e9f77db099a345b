"""/v2/alerts: a user's price alerts; bad input refused with a code and nothing written; nobody
else's alert can be read or canceled."""
import pytest

from marketdata.models import PriceAlert

pytestmark = pytest.mark.django_db


def test_create_list_cancel(alice, aapl):
    created = alice.client.post("/v2/alerts", {"symbol": "aapl", "condition": "above", "price": "101.50"}, format="json")
    assert created.status_code == 200, created.content
    body = created.json()
    assert (body["symbol"], body["condition"], body["price"], body["status"]) == ("AAPL", "above", "101.5", "active")
    listed = alice.client.get("/v2/alerts").json()
    assert [a["id"] for a in listed] == [body["id"]]
    canceled = alice.client.delete(f"/v2/alerts/{body['id']}")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert alice.client.get("/v2/alerts?status=active").json() == []


@pytest.mark.parametrize("body, reason", [
    ({"symbol": "NOPE", "condition": "above", "price": "1"}, "unknown_symbol"),
    ({"symbol": "AAPL", "condition": "sideways", "price": "1"}, "invalid_condition"),
    ({"symbol": "AAPL", "condition": "below", "price": "-3"}, "invalid_price"),
    ({"symbol": "AAPL", "condition": "below", "price": "abc"}, None),
    ({"symbol": "AAPL", "condition": "below"}, "missing_field"),
    ({"symbol": "AAPL", "condition": "below", "price": "1", "extra": 1}, "unknown_field"),
])
def test_bad_alerts_are_refused_and_write_nothing(alice, aapl, body, reason):
    response = alice.client.post("/v2/alerts", body, format="json")
    assert response.status_code == 422, response.content
    assert "code" in response.json() and (reason is None or response.json()["reason"] == reason)
    assert PriceAlert.objects.count() == 0


def test_another_users_alert_is_invisible(alice, bob, aapl):
    alert_id = alice.client.post("/v2/alerts", {"symbol": "AAPL", "condition": "below", "price": "90"},
                                 format="json").json()["id"]
    assert bob.client.get("/v2/alerts").json() == []
    assert bob.client.delete(f"/v2/alerts/{alert_id}").status_code == 404
    assert PriceAlert.objects.get(pk=alert_id).status == "active"
