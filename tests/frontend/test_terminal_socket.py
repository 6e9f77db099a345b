"""/ws/terminal: the tab's one socket. Trade updates (the /stream protocol and its replay), the
market data the page subscribed to (conflated per symbol), the user's notifications and the
account's valuation, all on one connection; session only; logout closes it."""
import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from frontend.consumers import CLOSE_LOGGED_OUT, CLOSE_NOT_SIGNED_IN
from marketdata.groups import account_group, symbol_group, user_group
from tests.api.conftest import Trader
from tests.factories import make_asset
from tradex.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
TIMEOUT = 10
ORIGIN = (b"origin", b"http://testserver")
HOST = (b"host", b"testserver")  # a browser's socket came to this site: same scheme, host and port
PATH = "/ws/terminal"


def signed_in(trader: Trader) -> tuple[Client, tuple[bytes, bytes]]:
    client = Client()
    client.force_login(trader.account.user)
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return client, (b"cookie", f"{settings.SESSION_COOKIE_NAME}={value}".encode())


async def connect(*headers) -> WebsocketCommunicator:
    ws = WebsocketCommunicator(application, PATH, headers=[HOST, *headers])
    connected, _ = await ws.connect(timeout=TIMEOUT)
    assert connected
    assert json.loads(await ws.receive_from(timeout=TIMEOUT))["data"]["status"] == "authorized"
    # then the account's valuation once (the portfolio's snapshot); pushes follow as it changes
    account = json.loads(await ws.receive_from(timeout=TIMEOUT))
    assert account["stream"] == "account" and account["data"]["snapshot"] is True and "equity" in account["data"]
    return ws


async def send(ws, frame):
    await ws.send_to(text_data=json.dumps(frame))


async def recv(ws) -> dict:
    return json.loads(await ws.receive_from(timeout=TIMEOUT))


def md(symbol, price, *, quote=None):
    return {"type": "md.update", "symbol": symbol, "sent_ns": 0, "q": quote, "b": [],
            "t": [{"T": "t", "S": symbol, "p": price, "s": "10", "t": "2026-01-02T15:00:00Z"}]}


@pytest.fixture
def aapl(db):
    return make_asset("AAPL", price="100", prev_close="98")


@pytest.fixture
def msft(db):
    return make_asset("MSFT", price="400")


@pytest.fixture
def alice(aapl):
    return Trader()


def test_one_socket_multiplexes_trades_prices_notifications_and_valuation(alice, msft):
    _, cookie = signed_in(alice)
    layer = get_channel_layer()

    async def scenario():
        ws = await connect(ORIGIN, cookie)
        await send(ws, {"action": "listen", "data": {"streams": ["trade_updates"]}})
        assert (await recv(ws))["data"] == {"streams": ["trade_updates", "account_updates"], "last_seq": 0}  # the terminal always carries the valuation
        await send(ws, {"action": "subscribe", "data": {"symbols": ["aapl"]}})
        assert await recv(ws) == {"stream": "subscription", "data": {"symbols": ["AAPL"]}}
        snapshot = await recv(ws)  # the last known price at once, before any tick
        assert snapshot["stream"] == "md" and snapshot["data"]["S"] == "AAPL" and snapshot["data"]["snapshot"]
        assert snapshot["data"]["t"] == {"p": "100"} and snapshot["data"]["prev_close"] == "98"

        order = await sync_to_async(alice.place)()
        trade = await recv(ws)
        assert trade["stream"] == "trade_updates" and trade["data"]["seq"] == 1
        assert trade["data"]["order"]["id"] == str(order.pk)

        await layer.group_send(symbol_group("AAPL"), md("AAPL", "101.5"))
        await layer.group_send(symbol_group("MSFT"), md("MSFT", "999"))  # not subscribed: never sent
        tick = await recv(ws)
        assert tick == {"stream": "md", "data": {"S": "AAPL", "q": None, "b": [],
                                                 "t": md("AAPL", "101.5")["t"][0]}}

        await layer.group_send(user_group(alice.account.user_id), {"type": "user.notify", "kind": "alert",
                                                                    "data": {"symbol": "AAPL", "message": "AAPL above 101"}})
        assert await recv(ws) == {"stream": "notification",
                                  "data": {"kind": "alert", "data": {"symbol": "AAPL", "message": "AAPL above 101"}}}
        await layer.group_send(account_group(alice.account.pk), {"type": "account.update", "data": {"equity": "10001"}})
        assert await recv(ws) == {"stream": "account", "data": {"equity": "10001"}}
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()

    async_to_sync(scenario)()


def test_market_data_is_conflated_per_symbol(alice, msft):
    _, cookie = signed_in(alice)
    layer = get_channel_layer()

    async def scenario():
        ws = await connect(ORIGIN, cookie)
        await send(ws, {"action": "subscribe", "data": {"symbols": ["AAPL", "MSFT"]}})
        await recv(ws)
        await recv(ws), await recv(ws)  # the two snapshots
        quote = {"T": "q", "S": "AAPL", "bp": "100.9", "ap": "101.1", "bs": "1", "as": "2"}
        for price in ("101", "102", "103"):  # a burst within one flush window
            await layer.group_send(symbol_group("AAPL"), md("AAPL", price, quote=quote if price == "101" else None))
        await layer.group_send(symbol_group("MSFT"), md("MSFT", "401"))
        frames = {f["data"]["S"]: f["data"] for f in [await recv(ws), await recv(ws)]}
        assert frames["AAPL"]["t"]["p"] == "103" and frames["AAPL"]["q"] == quote  # latest trade, latest quote
        assert frames["MSFT"]["t"]["p"] == "401"
        assert await ws.receive_nothing(timeout=0.3)  # one frame per symbol, not one per tick

        await send(ws, {"action": "unsubscribe", "data": {"symbols": ["MSFT"]}})
        assert await recv(ws) == {"stream": "subscription", "data": {"symbols": ["AAPL"]}}
        await layer.group_send(symbol_group("MSFT"), md("MSFT", "402"))
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()

    async_to_sync(scenario)()


def test_after_a_reconnect_resume_after_replays_what_the_tab_missed(alice):
    _, cookie = signed_in(alice)

    async def scenario():
        ws = await connect(ORIGIN, cookie)
        await send(ws, {"action": "listen", "data": {"streams": ["trade_updates"]}})
        await recv(ws)
        await sync_to_async(alice.place)()
        seen = (await recv(ws))["data"]["seq"]
        await ws.disconnect()
        missed = [await sync_to_async(alice.place)(client_order_id=f"m{i}") for i in range(2)]

        ws = await connect(ORIGIN, cookie)
        await send(ws, {"action": "listen", "data": {"streams": ["trade_updates"], "resume_after": seen}})
        assert (await recv(ws))["data"]["last_seq"] == seen
        replayed = [(await recv(ws))["data"] for _ in missed]
        assert [u["order"]["id"] for u in replayed] == [str(o.pk) for o in missed]
        assert [u["seq"] for u in replayed] == [seen + 1, seen + 2]
        await ws.disconnect()

    async_to_sync(scenario)()


@pytest.mark.parametrize("frame, code", [
    ({"action": "subscribe", "data": {"symbols": "AAPL"}}, "invalid_symbols"),
    ({"action": "subscribe", "data": {"symbols": ["AAPL; DROP"]}}, "invalid_symbols"),
    ({"action": "subscribe", "data": {"symbols": [f"S{i}" for i in range(101)]}}, "too_many_symbols"),
    ({"action": "frobnicate"}, "unknown_action"),
])
def test_bad_frames_get_a_code_and_change_nothing(alice, frame, code):
    _, cookie = signed_in(alice)

    async def scenario():
        ws = await connect(ORIGIN, cookie)
        await send(ws, frame)
        assert (await recv(ws))["data"]["code"] == code
        await send(ws, {"action": "subscribe", "data": {"symbols": []}})
        assert await recv(ws) == {"stream": "subscription", "data": {"symbols": []}}
        await ws.disconnect()

    async_to_sync(scenario)()


def test_api_keys_are_refused_the_terminal_is_session_only(alice):
    _, cookie = signed_in(alice)

    async def scenario():
        ws = await connect(ORIGIN, cookie)
        await send(ws, {"action": "authenticate", "data": {"key_id": alice.key_id, "secret_key": alice.secret}})
        assert (await recv(ws))["data"]["code"] == "session_only"
        await ws.disconnect()

        for headers in ([ORIGIN], [cookie], [(b"origin", b"http://evil.example"), cookie]):
            # no session / no Origin (not our page) / another site's page: refused before accept
            ws = WebsocketCommunicator(application, PATH, headers=[HOST, *headers])
            connected, close_code = await ws.connect(timeout=TIMEOUT)
            assert not connected
            assert close_code in (CLOSE_NOT_SIGNED_IN, 1000, None)  # OriginValidator closes with the default

    async_to_sync(scenario)()


def test_logout_closes_the_sessions_sockets_and_no_one_elses(alice):
    bob = Trader()
    client, cookie = signed_in(alice)
    _, bob_cookie = signed_in(bob)

    async def scenario():
        mine, other_tab, bobs = [await connect(ORIGIN, c) for c in (cookie, cookie, bob_cookie)]
        token_page = await sync_to_async(client.get)("/")
        assert token_page.status_code == 200
        response = await sync_to_async(client.post)("/logout/")
        assert response.status_code == 302
        for ws in (mine, other_tab):
            assert await recv(ws) == {"stream": "session", "data": {"status": "logged_out", "reason": "logged_out"}}
            assert (await ws.receive_output(timeout=TIMEOUT)) == {"type": "websocket.close", "code": CLOSE_LOGGED_OUT}
        assert await bobs.receive_nothing(timeout=0.3)
        await bobs.disconnect()

        # The logged-out cookie cannot open a new one.
        again = WebsocketCommunicator(application, PATH, headers=[HOST, ORIGIN, cookie])
        connected, code = await again.connect(timeout=TIMEOUT)
        assert not connected and code == CLOSE_NOT_SIGNED_IN

    async_to_sync(scenario)()
