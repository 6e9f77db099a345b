"""WebSocket origins are checked with scheme and port, through the whole ASGI stack (tradex/ws_routes.py).

Regression it pins: a WebSocket from a page on another port of the same host
(Origin http://127.0.0.1:9999) was accepted, as host patterns ignore scheme and port."""
import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from tests.api.conftest import Trader
from tradex.asgi import application
from tradex.ws_routes import origin_allowed

pytestmark = pytest.mark.django_db(transaction=True)
TIMEOUT = 10


def session_cookie(trader: Trader) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(trader.account.user)
    return b"cookie", f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def handshake(path: str, headers: list[tuple[bytes, bytes]], frame: dict | None = None) -> tuple[bool, dict | None]:
    """Whether the socket was accepted, and the reply to `frame` sent once it was."""
    async def scenario():
        ws = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await ws.connect(timeout=TIMEOUT)
        reply = None
        if connected and frame is not None:
            await ws.send_to(text_data=json.dumps(frame))
            reply = json.loads(await ws.receive_from(timeout=TIMEOUT))
        if connected:
            await ws.disconnect()
        return connected, reply

    return async_to_sync(scenario)()


@pytest.fixture
def trader():
    return Trader()


@pytest.mark.parametrize("path", ["/stream", "/v2/iex"])
def test_a_page_of_this_site_is_accepted_and_another_port_or_scheme_refused(trader, path):
    cookie = session_cookie(trader)
    host = (b"host", b"127.0.0.1:8000")

    def accepted(origin: bytes) -> bool:
        return handshake(path, [host, (b"origin", origin), cookie])[0]

    assert accepted(b"http://127.0.0.1:8000")
    assert not accepted(b"http://127.0.0.1:9999")  # another port of the same host
    assert not accepted(b"https://127.0.0.1:8000")  # another scheme
    assert not accepted(b"http://127.0.0.1")  # port 80 is another port
    assert not accepted(b"http://evil.example:8000")
    assert not accepted(b"null")  # a sandboxed frame or a file:// page
    # Two Origin headers: refused, rather than guessing which one the browser meant.
    assert not handshake(path, [host, (b"origin", b"http://127.0.0.1:8000"), (b"origin", b"http://x:1"), cookie])[0]


def test_an_api_client_without_an_origin_is_accepted_and_authenticates_with_its_key(trader):
    connected, reply = handshake("/stream", [(b"host", b"127.0.0.1:8000")], {
        "action": "authenticate", "data": {"key_id": trader.key_id, "secret_key": trader.secret}})
    assert connected and reply["data"]["status"] == "authorized"


def test_a_host_outside_allowed_hosts_is_refused_even_when_the_origin_matches(trader):
    """DNS rebinding: evil.example resolving to this machine sends a matching Host and Origin."""
    headers = [(b"host", b"evil.example:8000"), (b"origin", b"http://evil.example:8000"), session_cookie(trader)]
    assert not handshake("/stream", headers)[0]


def scope(*headers):
    return {"type": "websocket", "headers": list(headers)}


def test_default_ports_and_case_are_the_same_origin():
    assert origin_allowed(scope((b"host", b"LOCALHOST")), b"http://localhost:80")
    assert origin_allowed(scope((b"host", b"[::1]:8000")), b"http://[::1]:8000")
    assert not origin_allowed(scope((b"host", b"localhost:99999")), b"http://localhost:99999")
    assert not origin_allowed(scope(), b"http://localhost")  # no Host header: nothing to compare with


def test_behind_a_tls_proxy_the_origin_is_https(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    behind = scope((b"host", b"localhost"), (b"x-forwarded-proto", b"https"))
    assert origin_allowed(behind, b"https://localhost")
    assert not origin_allowed(behind, b"http://localhost")
    # without the proxy setting the header is not trusted
    settings.SECURE_PROXY_SSL_HEADER = None
    assert not origin_allowed(behind, b"https://localhost")


def test_configured_origins_are_accepted_from_elsewhere(settings):
    settings.TRADEX_ALLOWED_ORIGINS = ["https://app.example.com"]
    assert origin_allowed(scope((b"host", b"api.example.com")), b"https://app.example.com")
    assert not origin_allowed(scope((b"host", b"api.example.com")), b"https://app.example.com:8443")
    assert not origin_allowed(scope((b"host", b"api.example.com")), b"http://app.example.com")
