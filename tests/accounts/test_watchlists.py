"""/v2/watchlists: Alpaca's shapes (alpaca-py's TradingClient against the live server), owner
checks (another account's list is not found), bad input refused with a code and nothing changed."""
import uuid

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.requests import CreateWatchlistRequest, UpdateWatchlistRequest
from django.conf import settings

from accounts.models import Watchlist, WatchlistItem
from tests.api.conftest import Trader
from tests.factories import make_account_with_key, make_asset

pytestmark = pytest.mark.django_db


@pytest.fixture
def assets(db):
    return [make_asset(s) for s in ("AAPL", "MSFT", "NVDA")]


@pytest.fixture
def alice(assets):
    return Trader()


@pytest.fixture
def bob(assets):
    return Trader()


def counts():
    return Watchlist.objects.count(), WatchlistItem.objects.count()


def test_create_get_update_add_remove_delete(alice):
    created = alice.client.post("/v2/watchlists", {"name": "Tech", "symbols": ["msft", "AAPL"]}, format="json")
    assert created.status_code == 200, created.content
    body = created.json()
    assert body["name"] == "Tech" and body["account_id"] == str(alice.account.pk)
    assert [a["symbol"] for a in body["assets"]] == ["MSFT", "AAPL"]  # the order given
    wid = body["id"]

    assert [w["name"] for w in alice.client.get("/v2/watchlists").json()] == ["Tech"]
    assert "assets" not in alice.client.get("/v2/watchlists").json()[0]

    added = alice.client.post(f"/v2/watchlists/{wid}", {"symbol": "NVDA"}, format="json").json()
    assert [a["symbol"] for a in added["assets"]] == ["MSFT", "AAPL", "NVDA"]
    removed = alice.client.delete(f"/v2/watchlists/{wid}/MSFT").json()
    assert [a["symbol"] for a in removed["assets"]] == ["AAPL", "NVDA"]
    renamed = alice.client.put(f"/v2/watchlists/{wid}", {"name": "Chips", "symbols": ["NVDA"]}, format="json").json()
    assert renamed["name"] == "Chips" and [a["symbol"] for a in renamed["assets"]] == ["NVDA"]

    assert alice.client.delete(f"/v2/watchlists/{wid}").status_code == 204
    assert alice.client.get(f"/v2/watchlists/{wid}").status_code == 404
    assert counts() == (0, 0)


def test_another_accounts_watchlist_is_not_found_and_unchanged(alice, bob):
    wid = alice.client.post("/v2/watchlists", {"name": "Mine", "symbols": ["AAPL"]}, format="json").json()["id"]
    before = counts()
    for method, path, body in (("get", f"/v2/watchlists/{wid}", None), ("put", f"/v2/watchlists/{wid}", {"name": "x"}),
                               ("post", f"/v2/watchlists/{wid}", {"symbol": "MSFT"}),
                               ("delete", f"/v2/watchlists/{wid}/AAPL", None), ("delete", f"/v2/watchlists/{wid}", None)):
        response = getattr(bob.client, method)(path, body, format="json")
        assert response.status_code == 404 and response.json()["reason"] == "watchlist_not_found", (method, path)
    assert counts() == before
    assert bob.client.get("/v2/watchlists").json() == []


@pytest.mark.parametrize("path_kind, method, body, status, reason", [
    ("list", "post", {"symbols": ["AAPL"]}, 422, "missing_field"),
    ("list", "post", {"name": "", "symbols": []}, 422, "missing_field"),
    ("list", "post", {"name": "x" * 65}, 422, "invalid_name"),
    ("list", "post", {"name": "A", "symbols": ["NOPE"]}, 422, "asset_not_found"),
    ("list", "post", {"name": "A", "symbols": "AAPL"}, 422, "invalid_symbols"),
    ("list", "post", {"name": "A", "colour": "red"}, 422, "unknown_field"),
    ("list", "post", {"name": "Existing"}, 422, "watchlist_name_taken"),
    ("one", "put", {}, 422, "nothing_to_update"),
    ("one", "post", {"symbol": "AAPL"}, 422, "asset_already_in_watchlist"),
    ("one", "post", {"symbol": 5}, 422, "wrong_type"),
    ("asset", "delete", None, 404, "asset_not_in_watchlist"),
    ("missing", "get", None, 404, "watchlist_not_found"),
    ("garbage", "get", None, 404, "watchlist_not_found"),
])
def test_bad_input_is_refused_with_a_reason_and_changes_nothing(alice, path_kind, method, body, status, reason):
    wid = alice.client.post("/v2/watchlists", {"name": "Existing", "symbols": ["AAPL"]}, format="json").json()["id"]
    path = {"list": "/v2/watchlists", "one": f"/v2/watchlists/{wid}", "asset": f"/v2/watchlists/{wid}/MSFT",
            "missing": f"/v2/watchlists/{uuid.uuid4()}", "garbage": "/v2/watchlists/not-a-uuid"}[path_kind]
    before = counts()
    response = getattr(alice.client, method)(path, body, format="json")
    assert response.status_code == status, response.content
    assert response.json()["reason"] == reason
    assert counts() == before


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_alpaca_py_watchlist_calls(live_server, monkeypatch, assets):
    monkeypatch.setitem(settings.DATABASES["default"], "CONN_MAX_AGE", 0)
    _, key_id, secret = make_account_with_key()
    client = TradingClient(key_id, secret, paper=True, url_override=live_server.url)

    created = client.create_watchlist(CreateWatchlistRequest(name="Tech", symbols=["AAPL", "MSFT"]))
    assert created.name == "Tech" and [a.symbol for a in created.assets] == ["AAPL", "MSFT"]
    assert [w.id for w in client.get_watchlists()] == [created.id]
    assert [a.symbol for a in client.add_asset_to_watchlist_by_id(created.id, "NVDA").assets] == ["AAPL", "MSFT", "NVDA"]
    assert [a.symbol for a in client.remove_asset_from_watchlist_by_id(created.id, "AAPL").assets] == ["MSFT", "NVDA"]
    updated = client.update_watchlist_by_id(created.id, UpdateWatchlistRequest(name="Renamed"))
    assert updated.name == "Renamed" and [a.symbol for a in client.get_watchlist_by_id(created.id).assets] == ["MSFT", "NVDA"]
    client.delete_watchlist_by_id(created.id)
    assert client.get_watchlists() == []
