"""The trade-updates stream at /stream (Alpaca's protocol, plus seq and resume_after), through the
whole ASGI stack (origin check, session, routing) on the real Redis channel layer.

Regression it pins: Alpaca's users lose trade updates when their stream reconnects. Here every
update carries a per-account seq, and a client that reconnects with the last one it saw receives
exactly the ones it missed: none lost, none twice.
"""
import json
import os
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import msgpack
import pytest
from alpaca.trading.enums import OrderStatus
from alpaca.trading.models import TradeUpdate as AlpacaTradeUpdate
from alpaca.trading.stream import TradingStream
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from core import realtime
from orders.events import trade_updates_group, trade_updates_prune
from orders.models import TradeUpdate
from orders.selectors import trade_update_last_seq
from tests.api.conftest import Trader, fill
from tests.ops.test_connections import wait_until_serving
from tests.ops.test_launcher import free_port
from tradex.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 10  # seconds to wait for a frame that must come
ORIGIN = (b"origin", b"http://testserver")
HOST = (b"host", b"testserver")  # a browser's socket came to this site: same scheme, host and port


_connections: list[WebsocketCommunicator] = []


def run(scenario):
    """Run an async scenario; its sync_to_async calls (services, the consumer's queries) run on
    this thread, with this test's database connection. Connections it leaves open are closed, so
    a failing scenario does not leave a consumer behind for the next test."""
    async def closing():
        try:
            return await scenario()
        finally:
            while _connections:
                ws = _connections.pop()
                try:
                    await ws.disconnect()
                except Exception:  # already closed, or its consumer failed: the scenario reports
                    pass

    return async_to_sync(closing)()


async def connect(*headers) -> WebsocketCommunicator:
    ws = WebsocketCommunicator(application, "/stream", headers=[HOST, *headers])
    _connections.append(ws)
    connected, _ = await ws.connect(timeout=TIMEOUT)
    assert connected
    return ws


async def send(ws, frame: dict) -> None:
    await ws.send_to(text_data=json.dumps(frame))


async def recv(ws) -> dict:
    return json.loads(await ws.receive_from(timeout=TIMEOUT))


def auth_frame(trader: Trader) -> dict:
    """alpaca-py's TradingStream's frame."""
    return {"action": "authenticate", "data": {"key_id": trader.key_id, "secret_key": trader.secret}}


def listen_frame(**extra) -> dict:
    return {"action": "listen", "data": {"streams": ["trade_updates"], **extra}}


async def listening(trader: Trader, **listen) -> WebsocketCommunicator:
    ws = await connect()
    await send(ws, auth_frame(trader))
    assert await recv(ws) == {"stream": "authorization", "data": {"status": "authorized", "action": "authenticate"}}
    await send(ws, listen_frame(**listen))
    reply = await recv(ws)
    assert reply["stream"] == "listening" and reply["data"]["streams"] == ["trade_updates"]
    return ws


async def updates(ws, n: int) -> list[dict]:
    frames = [await recv(ws) for _ in range(n)]
    assert all(f["stream"] == "trade_updates" for f in frames), frames
    return [f["data"] for f in frames]


place = sync_to_async(lambda trader, **kw: trader.place(**kw))
fill_async = sync_to_async(fill)


# --- authentication --------------------------------------------------------------------------


@pytest.mark.parametrize("frame", [
    lambda t: {"action": "authenticate", "data": {"key_id": t.key_id, "secret_key": t.secret}},  # alpaca-py
    lambda t: {"action": "auth", "key": t.key_id, "secret": t.secret},  # Alpaca's data streams' style
])
def test_api_key_frames_authorize(alice, frame):
    async def scenario():
        ws = await connect()
        await send(ws, frame(alice))
        assert await recv(ws) == {"stream": "authorization",
                                  "data": {"status": "authorized", "action": "authenticate"}}
        await ws.disconnect()

    run(scenario)


@pytest.mark.parametrize("frame", [
    lambda t: {"action": "authenticate", "data": {"key_id": t.key_id, "secret_key": "wrong"}},
    lambda t: {"action": "auth", "key": "NOSUCHKEY", "secret": t.secret},
    lambda t: {"action": "auth", "key": t.key_id},
    lambda t: {"action": "auth", "key": t.key_id, "secret": 123},
])
def test_a_bad_key_is_refused_and_the_connection_closed(alice, frame):
    async def scenario():
        ws = await connect()
        await send(ws, frame(alice))
        reply = await recv(ws)
        assert reply["stream"] == "authorization"
        assert reply["data"]["status"] == "unauthorized" and reply["data"]["code"] == "invalid_credentials"
        assert await ws.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": 4008}

    run(scenario)


def test_a_user_holds_at_most_the_configured_key_connections(alice, bob, settings):
    """Fan-out on this stream: a client multiplexes over one connection. Beyond the cap a
    key is refused (and the connection closed); a closed connection gives its place back."""
    settings.TRADEX_STREAM_MAX_CONNECTIONS_PER_USER = 2

    async def scenario():
        first, _second = await listening(alice), await listening(alice)
        third = await connect()
        await send(third, auth_frame(alice))
        reply = await recv(third)
        assert reply["data"]["status"] == "unauthorized" and reply["data"]["code"] == "connection_limit_exceeded"
        assert await third.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": 4008}
        await listening(bob)  # another user is not affected
        await first.disconnect()  # returns once the consumer's disconnect has run
        await listening(alice)

    run(scenario)


def test_listen_before_authenticating_is_refused(alice, aapl):
    async def scenario():
        ws = await connect()
        await send(ws, listen_frame())
        reply = await recv(ws)
        assert reply == {"stream": "authorization", "data": {"status": "unauthorized", "action": "listen",
                                                             "code": "not_authenticated",
                                                             "message": "authenticate first"}}
        # The connection stays usable: authenticate, listen, and updates flow.
        await send(ws, auth_frame(alice))
        assert (await recv(ws))["data"]["status"] == "authorized"
        await send(ws, listen_frame())
        assert (await recv(ws))["stream"] == "listening"
        order = await place(alice)
        [update] = await updates(ws, 1)
        assert update["order"]["id"] == str(order.pk)
        await ws.disconnect()

    run(scenario)


def test_a_signed_in_browser_streams_its_own_account_without_keys(alice, aapl):
    client = Client()
    client.force_login(alice.account.user)
    cookie = (b"cookie", f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode())

    async def scenario():
        ws = await connect(ORIGIN, cookie)
        await send(ws, {"action": "auth"})  # optional for a session; answered like a key
        assert (await recv(ws))["data"]["status"] == "authorized"
        await send(ws, listen_frame())
        assert (await recv(ws))["data"] == {"streams": ["trade_updates"], "last_seq": 0}
        order = await place(alice)
        [update] = await updates(ws, 1)
        assert update["seq"] == 1 and update["order"]["id"] == str(order.pk)
        await ws.disconnect()

        # Another site's page cannot use the browser's session (cross-site WebSocket hijacking).
        evil = WebsocketCommunicator(application, "/stream", headers=[HOST, (b"origin", b"http://evil.example"), cookie])
        connected, _ = await evil.connect(timeout=TIMEOUT)
        assert not connected

    run(scenario)


def test_a_key_for_another_account_cannot_switch_the_connection(alice, bob, aapl):
    async def scenario():
        ws = await listening(alice)
        await send(ws, auth_frame(bob))
        reply = await recv(ws)
        assert reply["data"]["status"] == "unauthorized" and reply["data"]["code"] == "account_mismatch"
        await place(bob)
        order = await place(alice)
        [update] = await updates(ws, 1)  # still alice's stream
        assert update["order"]["id"] == str(order.pk)
        await ws.disconnect()

    run(scenario)


# --- updates ---------------------------------------------------------------------------------


def test_an_order_and_its_fills_arrive_in_seq_order_as_alpaca_trade_updates(alice, aapl):
    async def scenario():
        ws = await listening(alice)
        order = await place(alice, qty="10", limit_price="100")
        await fill_async(order, "4", "99.5")
        await fill_async(order, "6", "100")
        placed, partial, filled = await updates(ws, 3)
        await ws.disconnect()
        return order, placed, partial, filled

    order, placed, partial, filled = run(scenario)
    assert [placed["seq"], partial["seq"], filled["seq"]] == [1, 2, 3]
    assert placed["event"] == "pending_new" and placed["order"]["status"] == "pending_new"
    assert placed["order"]["id"] == str(order.pk) and placed["order"]["qty"] == "10"
    assert partial["event"] == "partial_fill" and (partial["price"], partial["qty"], partial["position_qty"]) == \
        ("99.5", "4", "4")
    assert partial["order"]["filled_qty"] == "4" and partial["order"]["status"] == "partially_filled"
    assert filled["event"] == "fill" and filled["order"]["status"] == "filled" and filled["position_qty"] == "10"
    # Each frame's data parses as alpaca-py's TradeUpdate, its order as alpaca-py's Order.
    parsed = AlpacaTradeUpdate(**filled)
    assert parsed.event == "fill" and parsed.order.status == OrderStatus.FILLED and parsed.price == 100.0
    # What was pushed is what is stored.
    assert list(TradeUpdate.objects.filter(account=alice.account).order_by("seq").values_list("seq", "event")) == \
        [(1, "pending_new"), (2, "partial_fill"), (3, "fill")]


def test_another_accounts_updates_never_arrive(alice, bob, aapl):
    async def scenario():
        ws = await listening(alice)
        await place(bob)  # pushed before alice's own: it would arrive first if it arrived at all
        mine = await place(alice)
        [update] = await updates(ws, 1)
        assert update["order"]["id"] == str(mine.pk) and update["seq"] == 1
        await ws.disconnect()

    run(scenario)
    assert trade_update_last_seq(account_id=bob.account.pk) == 1  # bob has his own numbering


def test_resume_after_replays_exactly_the_missed_updates(alice, aapl):
    async def scenario():
        ws = await listening(alice)
        first = await place(alice)
        [seen] = await updates(ws, 1)
        await ws.disconnect()

        # While the client is away: a fill and a new order.
        await fill_async(first, "10", "100")
        second = await place(alice)

        ws = await connect()
        await send(ws, auth_frame(alice))
        await recv(ws)
        await send(ws, listen_frame(resume_after=seen["seq"]))
        assert (await recv(ws))["data"] == {"streams": ["trade_updates"], "last_seq": 1}
        missed = await updates(ws, 2)
        third = await place(alice)  # and the stream goes on live
        [live] = await updates(ws, 1)
        await ws.disconnect()
        return first, second, third, missed, live

    first, second, third, missed, live = run(scenario)
    assert [(u["seq"], u["event"], u["order"]["id"]) for u in missed] == \
        [(2, "fill", str(first.pk)), (3, "pending_new", str(second.pk))]
    assert (live["seq"], live["order"]["id"]) == (4, str(third.pk))


def test_updates_pushed_during_the_replay_are_sent_once_in_order(alice, aapl):
    """A client resumes while another thread keeps placing orders: whatever the interleaving of the
    replay and the live pushes, it receives 1..N once each, in order."""
    total = 30
    errors = []
    started = threading.Event()

    def trader():
        from django.db import connection
        try:
            for i in range(total):
                alice.place(qty="1", limit_price="1")
                if i == total // 3:
                    started.set()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
            started.set()
        finally:
            connection.close()

    thread = threading.Thread(target=trader)
    thread.start()
    assert started.wait(TIMEOUT)

    async def scenario():
        ws = await listening(alice, resume_after=0)
        got = await updates(ws, total)
        await ws.disconnect()
        return [u["seq"] for u in got]

    seqs = run(scenario)
    thread.join(TIMEOUT)
    assert not errors
    assert seqs == list(range(1, total + 1))


def test_a_push_lost_by_the_channel_layer_is_filled_from_the_stored_updates(alice, aapl, monkeypatch):
    real_send = realtime.publisher.send
    dropped = []

    def lossy_send(group, message):
        if message["seq"] == 2:
            dropped.append(message["seq"])
            return None
        return real_send(group, message)

    monkeypatch.setattr(realtime.publisher, "send", lossy_send)

    async def scenario():
        ws = await listening(alice)
        for _ in range(3):
            await place(alice)
        got = await updates(ws, 3)
        # A push that arrives late (or twice) is not sent again.
        layer = get_channel_layer()
        await layer.group_send(trade_updates_group(alice.account.pk), {"type": "trade.update", **got[1]})
        fourth = await place(alice)
        [next_update] = await updates(ws, 1)
        await ws.disconnect()
        return got, fourth, next_update

    got, fourth, next_update = run(scenario)
    assert dropped == [2]
    assert [u["seq"] for u in got] == [1, 2, 3]
    assert (next_update["seq"], next_update["order"]["id"]) == (4, str(fourth.pk))


def test_unlisten_stops_updates(alice, aapl):
    async def scenario():
        ws = await listening(alice)
        await send(ws, {"action": "unlisten", "data": {"streams": ["trade_updates"]}})
        assert await recv(ws) == {"stream": "listening", "data": {"streams": []}}
        await place(alice)
        await send(ws, listen_frame(resume_after=1))  # the first frame after re-listening is the reply
        assert (await recv(ws))["stream"] == "listening"
        await place(alice)
        assert [u["seq"] for u in await updates(ws, 1)] == [2]
        await ws.disconnect()

    run(scenario)


def test_binary_frames_get_binary_answers(alice, aapl):
    async def scenario():
        ws = await connect()
        await ws.send_to(bytes_data=msgpack.packb(auth_frame(alice)))
        assert msgpack.unpackb(await ws.receive_from(timeout=TIMEOUT))["data"]["status"] == "authorized"
        await ws.send_to(bytes_data=json.dumps(listen_frame()).encode())  # JSON in a binary frame, as Alpaca sends
        reply = await ws.receive_from(timeout=TIMEOUT)
        assert isinstance(reply, bytes) and json.loads(reply)["stream"] == "listening"
        await place(alice)
        update = await ws.receive_from(timeout=TIMEOUT)
        assert isinstance(update, bytes) and json.loads(update)["data"]["seq"] == 1
        await ws.disconnect()

    run(scenario)


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("listen, code", [
    ({"action": "listen", "data": {"streams": "trade_updates"}}, "invalid_streams"),
    (listen_frame(resume_after=-1), "invalid_resume_after"),
    (listen_frame(resume_after="1"), "invalid_resume_after"),
    (listen_frame(resume_after=True), "invalid_resume_after"),
    (listen_frame(resume_after=1.5), "invalid_resume_after"),
    (listen_frame(resume_after=5), "resume_after_ahead"),
    ({"action": "subscribe", "trades": ["AAPL"]}, "unknown_action"),
])
def test_bad_listen_frames_get_an_error_with_a_code_and_change_nothing(alice, aapl, listen, code):
    async def scenario():
        ws = await connect()
        await send(ws, auth_frame(alice))
        await recv(ws)
        await send(ws, listen)
        reply = await recv(ws)
        assert reply["stream"] == "listening" and reply["data"]["code"] == code and reply["data"]["error"]
        # Not listening, still connected: a good listen works.
        await send(ws, listen_frame())
        assert (await recv(ws))["data"]["streams"] == ["trade_updates"]
        await place(alice)
        assert [u["seq"] for u in await updates(ws, 1)] == [1]
        await ws.disconnect()

    run(scenario)


def test_resuming_from_pruned_updates_is_refused(alice, aapl, settings):
    from datetime import timedelta

    from django.utils import timezone

    for _ in range(3):
        alice.place()
    settings.TRADE_UPDATES_RETENTION_DAYS = 1
    assert trade_updates_prune(now=timezone.now() + timedelta(days=2)) == 2  # the latest row stays
    assert list(TradeUpdate.objects.values_list("seq", flat=True)) == [3]
    alice.place()
    assert trade_update_last_seq(account_id=alice.account.pk) == 4  # numbering goes on

    async def scenario():
        ws = await connect()
        await send(ws, auth_frame(alice))
        await recv(ws)
        await send(ws, listen_frame(resume_after=1))
        reply = await recv(ws)
        assert reply["data"]["code"] == "resume_after_expired"
        await send(ws, listen_frame(resume_after=3))  # still kept
        await recv(ws)
        assert [u["seq"] for u in await updates(ws, 1)] == [4]
        await ws.disconnect()

    run(scenario)


@pytest.mark.parametrize("garbage, close_code", [
    ({"text_data": "not json"}, 4003),
    ({"text_data": "[1, 2]"}, 4003),
    ({"text_data": '{"action": "listen", "data": [1]}'}, 4003),
    ({"text_data": "[" * 3000}, 4003),
    ({"bytes_data": b"\xc1\xff\x00"}, 4003),
    ({"text_data": json.dumps({"action": "auth", "key": "x" * 5000})}, 4009),
])
def test_garbage_closes_that_connection_only(alice, aapl, garbage, close_code):
    async def scenario():
        good, bad = await listening(alice), await listening(alice)
        await bad.send_to(**garbage)
        reply = await bad.receive_from(timeout=TIMEOUT)
        frame = msgpack.unpackb(reply) if isinstance(reply, bytes) else json.loads(reply)
        assert frame["stream"] == "listening" and frame["data"]["code"] in ("invalid_frame", "frame_too_large")
        assert await bad.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": close_code}
        order = await place(alice)
        [update] = await updates(good, 1)
        assert update["order"]["id"] == str(order.pk)
        await good.disconnect()

    run(scenario)


# --- alpaca-py over TCP ----------------------------------------------------------------------


class ObservedTradingStream(TradingStream):
    """alpaca-py's TradingStream unchanged, but the test can tell when its listen was answered
    (the SDK hands every frame to _dispatch and ignores all but trade updates)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.listening = threading.Event()

    async def _dispatch(self, msg):
        if msg.get("stream") == "listening":
            self.listening.set()
        await super()._dispatch(msg)


@pytest.fixture
def daphne_url():
    db = settings.DATABASES["default"]
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    server = subprocess.Popen([str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port),
                               "tradex.asgi:application"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        wait_until_serving(server, f"http://127.0.0.1:{port}/api/schema/", time.monotonic() + 60)
        yield f"ws://127.0.0.1:{port}/stream"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.live
def test_alpaca_py_trading_stream_receives_trade_updates(alice, aapl, daphne_url):
    received: list = []
    got = {"pending_new": threading.Event(), "fill": threading.Event()}

    async def on_update(update):
        received.append(update)
        if update.event in got:
            got[update.event].set()

    stream = ObservedTradingStream(alice.key_id, alice.secret, paper=True, url_override=daphne_url)
    stream.subscribe_trade_updates(on_update)
    thread = threading.Thread(target=stream.run, daemon=True)
    thread.start()
    try:
        assert stream.listening.wait(30), "TradingStream did not get to listen"
        order = alice.place(qty="2", limit_price="100")
        assert got["pending_new"].wait(TIMEOUT)
        fill(order, "2", "99.25")
        assert got["fill"].wait(TIMEOUT)
    finally:
        stream.stop()
        thread.join(timeout=30)

    placed, filled = received
    assert isinstance(placed, AlpacaTradeUpdate) and placed.order.id == order.pk
    assert placed.order.status == OrderStatus.PENDING_NEW and placed.order.symbol == "AAPL"
    assert Decimal(placed.order.qty) == 2 and Decimal(placed.order.limit_price) == 100
    assert filled.event == "fill" and filled.order.status == OrderStatus.FILLED
    assert filled.price == 99.25 and filled.qty == 2 and filled.position_qty == 2


@pytest.mark.live
def test_a_bad_key_closes_with_its_code_under_daphne(alice, daphne_url):
    """Regression: 1008 cannot be sent by daphne (autobahn allows 1000 and 3000-4999), so the client
    saw 1011 and daphne logged a traceback; the stream's close codes are 4000 + the RFC 6455 code."""
    import asyncio

    import websockets

    async def bad_key():
        async with websockets.connect(daphne_url, open_timeout=TIMEOUT) as ws:
            await ws.send(json.dumps({"action": "auth", "key": alice.key_id, "secret": "wrong"}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            try:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
            except websockets.ConnectionClosed as closed:
                return reply, closed.rcvd.code
        return reply, None

    reply, code = asyncio.run(bad_key())
    assert reply["data"]["code"] == "invalid_credentials" and code == 4008
