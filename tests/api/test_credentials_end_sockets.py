"""invariant 11: a credential ends everywhere at once. Revoking a key, logging out, a
password reset and closing the account close every socket that credential opened, on all three
socket endpoints (/stream, /v2/iex, /ws/terminal), through the channel layer (core.credentials)."""
import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import Account
from accounts.services import account_update, api_key_create, api_key_revoke
from tests.api.conftest import Trader
from tradex.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
TIMEOUT = 10
ORIGIN = (b"origin", b"http://testserver")
HOST = (b"host", b"testserver")  # a browser's socket came to this site: same scheme, host and port


# --- sockets, opened by a key or by a session -------------------------------------------------

def signed_in(trader: Trader) -> tuple[Client, tuple[bytes, bytes]]:
    client = Client()
    client.force_login(trader.account.user)
    return client, (b"cookie", f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode())


async def _frame(ws):
    return json.loads(await ws.receive_from(timeout=TIMEOUT))


async def open_stream(*, key=None, cookie=None):
    ws = WebsocketCommunicator(application, "/stream", headers=[HOST, ORIGIN, cookie] if cookie else [])
    assert (await ws.connect(timeout=TIMEOUT))[0]
    frame = {"action": "auth", "key": key[0], "secret": key[1]} if key else {"action": "auth"}
    await ws.send_to(text_data=json.dumps(frame))
    assert (await _frame(ws))["data"]["status"] == "authorized"
    return ws


async def open_iex(*, key=None, cookie=None):
    ws = WebsocketCommunicator(application, "/v2/iex", headers=[HOST, ORIGIN, cookie] if cookie else [])
    assert (await ws.connect(timeout=TIMEOUT))[0]
    assert await _frame(ws) == [{"T": "success", "msg": "connected"}]
    if key:
        await ws.send_to(text_data=json.dumps({"action": "auth", "key": key[0], "secret": key[1]}))
    assert await _frame(ws) == [{"T": "success", "msg": "authenticated"}]
    return ws


async def open_terminal(*, key=None, cookie=None):
    ws = WebsocketCommunicator(application, "/ws/terminal", headers=[HOST, ORIGIN, cookie])
    assert (await ws.connect(timeout=TIMEOUT))[0]
    assert (await _frame(ws))["data"]["status"] == "authorized"
    assert (await _frame(ws))["stream"] == "account"  # the valuation snapshot
    return ws


ENDPOINTS = {  # name: (opener, authenticated by, the last frame and close code when it ends)
    "/stream key": (open_stream, "key", lambda reason: (
        {"stream": "authorization", "data": {"status": "unauthorized", "action": "authenticate",
                                             "code": "credentials_ended", "message": reason}}, 4001)),
    "/stream session": (open_stream, "session", lambda reason: (
        {"stream": "authorization", "data": {"status": "unauthorized", "action": "authenticate",
                                             "code": "credentials_ended", "message": reason}}, 4001)),
    "/v2/iex key": (open_iex, "key", lambda reason: (
        [{"T": "error", "code": 414, "msg": "credentials ended", "reason": reason}], 4414)),
    "/v2/iex session": (open_iex, "session", lambda reason: (
        [{"T": "error", "code": 414, "msg": "credentials ended", "reason": reason}], 4414)),
    "/ws/terminal": (open_terminal, "session", lambda reason: (
        {"stream": "session", "data": {"status": "logged_out", "reason": reason}}, 4001)),
}


async def open_as(endpoint: str, trader: Trader, cookie):
    opener, by, _ = ENDPOINTS[endpoint]
    return await (opener(key=(trader.key_id, trader.secret)) if by == "key" else opener(cookie=cookie))


async def ends(ws) -> tuple[object, int]:
    """The last frame before the close, and the close code."""
    last = None
    while True:
        output = await ws.receive_output(timeout=TIMEOUT)
        if output["type"] == "websocket.close":
            return last, output["code"]
        last = json.loads(output.get("text") or output.get("bytes"))


# --- the events that end a credential ----------------------------------------------------------

def revoke_key(trader, client):
    api_key_revoke(key_id=trader.key_id, actor="test")


def log_out(trader, client):
    assert client.post("/logout/").status_code == 302


def reset_password(trader, client):
    """Django's reset flow, from another browser: the token link, then the new password."""
    user = trader.account.user
    other = Client()
    link = f"/reset/{urlsafe_base64_encode(force_bytes(user.pk))}/{default_token_generator.make_token(user)}/"
    form = other.get(link)
    assert form.status_code == 302, form.status_code
    done = other.post(form["Location"], {"new_password1": "a new Passw0rd!x", "new_password2": "a new Passw0rd!x"})
    assert done.status_code == 302, done.content[:2000]


def close_account(trader, client):
    account_update(account_id=trader.account.pk, actor="staff:test", changes={"status": Account.Status.CLOSED})


EVENTS = {  # name: (action, reason sent, the endpoints whose sockets it ends)
    "key revoked": (revoke_key, "api_key_revoked", ["/stream key", "/v2/iex key"]),
    "logout": (log_out, "logged_out", ["/stream session", "/v2/iex session", "/ws/terminal"]),
    "password reset": (reset_password, "password_changed", ["/stream session", "/v2/iex session", "/ws/terminal"]),
    "account closed": (close_account, "account_closed", list(ENDPOINTS)),
}
CASES = [(event, endpoint) for event, (_, _, endpoints) in EVENTS.items() for endpoint in endpoints]


@pytest.mark.parametrize("event, endpoint", CASES, ids=[f"{e} -> {p}" for e, p in CASES])
def test_a_socket_open_when_its_credential_ends_is_closed(event, endpoint):
    """Regression: a /stream or /v2/iex socket kept streaming after its key was revoked or its
    session logged out, and /ws/terminal outlived a password reset."""
    action, reason, _ = EVENTS[event]
    alice, bob = Trader(), Trader()
    client, cookie = signed_in(alice)
    _, bob_cookie = signed_in(bob)
    frame, code = ENDPOINTS[endpoint][2](reason)

    async def scenario():
        ws = await open_as(endpoint, alice, cookie)
        bystander = await open_as(endpoint, bob, bob_cookie)
        await sync_to_async(action)(alice, client)
        assert await ends(ws) == (frame, code)
        assert await bystander.receive_nothing(timeout=0.3)
        await bystander.disconnect()

    async_to_sync(scenario)()


def test_revoking_a_key_ends_only_that_keys_sockets():
    """The same user's other key and browser session stream on."""
    alice = Trader()
    second, second_secret = api_key_create(account_id=alice.account.pk, label="second")
    other = (second.key_id, second_secret)
    _, cookie = signed_in(alice)

    async def scenario():
        revoked = [await open_stream(key=(alice.key_id, alice.secret)), await open_iex(key=(alice.key_id, alice.secret))]
        kept = [await open_stream(key=other), await open_iex(key=other),
                await open_stream(cookie=cookie), await open_terminal(cookie=cookie)]
        await sync_to_async(revoke_key)(alice, None)
        for ws in revoked:
            assert (await ends(ws))[1] in (4001, 4414)
        for ws in kept:
            assert await ws.receive_nothing(timeout=0.3)
            await ws.disconnect()

    async_to_sync(scenario)()


def test_a_closed_accounts_key_cannot_open_a_stream():
    alice = Trader()
    close_account(alice, None)

    async def scenario():
        ws = WebsocketCommunicator(application, "/stream")
        assert (await ws.connect(timeout=TIMEOUT))[0]
        await ws.send_to(text_data=json.dumps({"action": "auth", "key": alice.key_id, "secret": alice.secret}))
        assert (await _frame(ws))["data"]["code"] == "invalid_credentials"
        assert (await ws.receive_output(timeout=TIMEOUT))["type"] == "websocket.close"
        iex = WebsocketCommunicator(application, "/v2/iex")
        assert (await iex.connect(timeout=TIMEOUT))[0]
        assert await _frame(iex) == [{"T": "success", "msg": "connected"}]
        await iex.send_to(text_data=json.dumps({"action": "auth", "key": alice.key_id, "secret": alice.secret}))
        assert (await _frame(iex))[0]["code"] == 402
        assert await ends(iex) == (None, 4402)

    async_to_sync(scenario)()


@pytest.mark.live
def test_revoking_a_key_closes_its_sockets_in_another_process():
    """The revocation commits here; the sockets live in a daphne process, reached through Redis."""
    import asyncio

    import websockets

    from tests.marketdata.test_stream import start_daphne, stop

    alice = Trader()
    proc, port = start_daphne()
    try:
        async def scenario():
            auth = {"action": "auth", "key": alice.key_id, "secret": alice.secret}
            async with websockets.connect(f"ws://127.0.0.1:{port}/stream", open_timeout=TIMEOUT) as stream, \
                    websockets.connect(f"ws://127.0.0.1:{port}/v2/iex", open_timeout=TIMEOUT) as iex:
                await stream.send(json.dumps(auth))
                assert json.loads(await asyncio.wait_for(stream.recv(), TIMEOUT))["data"]["status"] == "authorized"
                assert json.loads(await asyncio.wait_for(iex.recv(), TIMEOUT))[0]["msg"] == "connected"
                await iex.send(json.dumps(auth))
                assert json.loads(await asyncio.wait_for(iex.recv(), TIMEOUT))[0]["msg"] == "authenticated"
                await sync_to_async(revoke_key)(alice, None)
                codes = []
                for ws in (stream, iex):
                    with pytest.raises(websockets.ConnectionClosed) as closed:
                        while True:
                            await asyncio.wait_for(ws.recv(), TIMEOUT)
                    codes.append(closed.value.rcvd.code)
                return codes

        assert asyncio.run(scenario()) == [4001, 4414]
    finally:
        stop(proc)
