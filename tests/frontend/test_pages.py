"""The minimal web terminal: log in, see the dashboard, and place an order the way its ticket does
(JSON POST to /v2/orders with the session and the page's CSRF token)."""
import json
import re
from decimal import Decimal

import pytest
from django.test import Client

from orders.models import Order
from tests.factories import make_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def trader(aapl):
    account = make_account(cash="5000", username="trader")
    account.user.set_password("s3cret-pass-word")
    account.user.save()
    return account


def logged_in_client(trader) -> Client:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/login/")
    token = page.cookies["csrftoken"].value
    response = client.post("/login/", {"username": "trader", "password": "s3cret-pass-word",
                                       "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response.url == "/"
    return client


def page_csrf_token(client: Client) -> str:
    page = client.get("/")
    assert page.status_code == 200
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page.content.decode())[1]


def test_the_dashboard_needs_a_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response.url == "/login/?next=/"


def test_a_wrong_password_is_refused(client, trader):
    response = client.post("/login/", {"username": "trader", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_the_ticket_places_an_order_with_the_session_and_csrf_token(trader):
    client = logged_in_client(trader)
    body = {"symbol": "AAPL", "side": "buy", "qty": "2", "type": "limit", "limit_price": "100",
            "time_in_force": "day", "client_order_id": "web-1"}

    refused = client.post("/v2/orders", json.dumps(body), content_type="application/json")
    placed = client.post("/v2/orders", json.dumps(body), content_type="application/json",
                         HTTP_X_CSRFTOKEN=page_csrf_token(client))

    assert refused.status_code == 403  # a session without the page's token cannot trade (CSRF)
    assert placed.status_code == 200, placed.content
    assert placed.json()["status"] == "pending_new"
    assert Order.objects.get(account=trader).qty == Decimal("2")
    assert client.get("/v2/orders").json()[0]["client_order_id"] == "web-1"


def test_logout_ends_the_session(trader):
    client = logged_in_client(trader)
    token = page_csrf_token(client)

    response = client.post("/logout/", {"csrfmiddlewaretoken": token})

    assert response.status_code == 302 and response.url == "/login/"
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("path, marker", [
    ("/", 'id="ticket-box"'), ("/watchlists/", 'id="wl-rows"'), ("/symbol/aapl/", 'data-symbol="AAPL"'),
    ("/orders/", 'id="journey"'), ("/alerts/", 'id="alert-new"'), ("/documents/", 'id="docs"'),
    ("/security/", "Two-factor"),
])
def test_every_terminal_page_needs_a_login_and_renders(trader, path, marker):
    assert Client().get(path).status_code == 302
    page = logged_in_client(trader).get(path)
    assert page.status_code == 200
    html = page.content.decode()
    assert marker in html and 'id="conn"' in html  # every page shows the socket's state


def test_the_public_account_pages_render(db):
    for path in ("/login/", "/signup/", "/password-reset/"):
        assert Client().get(path).status_code == 200, path
