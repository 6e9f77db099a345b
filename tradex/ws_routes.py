"""WebSocket routes, and what every WebSocket passes through before its consumer.

Outages: tradex.asgi_guard answers a database or Redis failure with a JSON frame and close 1013.

Origin: a browser always sends one, and it must be this site's own origin, scheme, host and port
alike: the scheme the socket came in on (https behind a TLS proxy that says so in
SECURE_PROXY_SSL_HEADER), and the Host it was sent to, itself one of ALLOWED_HOSTS; or one of
TRADEX_ALLOWED_ORIGINS. So another site's page, or a page on another port of the same host, cannot
use a signed-in user's session cookie (cross-site WebSocket hijacking); host patterns alone
(channels' OriginValidator) ignore scheme and port. A connection without an Origin header is not a
browser's (alpaca-py and other API clients send none) and authenticates with its API key frame, so
it is let through.
"""
from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import validate_host
from django.urls import path, re_path

from accounts.selectors import api_key_user_id, socket_credential_live
from frontend.consumers import TerminalConsumer
from marketdata.stream.consumer import StockDataConsumer
from orders.consumers import TradeUpdatesConsumer
from tradex.asgi_guard import OutageGuard

websocket_urlpatterns: list = [
    path("stream", TradeUpdatesConsumer.as_asgi()),  # Alpaca's trade-updates stream
    path("ws/terminal", TerminalConsumer.as_asgi()),  # the web terminal's one socket per tab
    # Alpaca's stock data stream v2; every feed name serves the same (TradeX's) consolidated feed.
    # marketdata sits below accounts: the key check and the credential check are given to it here.
    re_path(r"^v2/(?P<feed>sip|iex|delayed_sip|test)$",
            StockDataConsumer.as_asgi(authenticate=api_key_user_id, credential_live=socket_credential_live)),
]

DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) with the scheme's default port filled in; None if not a web origin."""
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:  # a port out of range or not a number
        return None
    if scheme not in DEFAULT_PORTS or not parts.hostname or port is None:
        return None
    return scheme, parts.hostname, port


def _site_scheme(scope, headers: dict[bytes, bytes]) -> str:
    if scope.get("scheme") in ("wss", "https"):
        return "https"
    proxy = settings.SECURE_PROXY_SSL_HEADER  # as Django's request.is_secure() reads it
    if proxy:
        name, value = proxy
        header = name.removeprefix("HTTP_").lower().replace("_", "-").encode()
        if headers.get(header, b"").decode("latin-1").split(",")[0].strip() == value:
            return "https"
    return "http"


def origin_allowed(scope, origin: bytes) -> bool:
    headers = dict(scope.get("headers", []))
    text = origin.decode("latin-1").strip().lower()
    if text in settings.TRADEX_ALLOWED_ORIGINS:
        return True
    scheme, _, netloc = text.partition("://")
    claimed = _origin(scheme, netloc) if netloc and "/" not in netloc else None
    host = headers.get(b"x-forwarded-host") if settings.USE_X_FORWARDED_HOST else None
    host = (host or headers.get(b"host", b"")).decode("latin-1").split(",")[0].strip().lower()
    site = _origin(_site_scheme(scope, headers), host)
    return (claimed is not None and site is not None and claimed == site
            and validate_host(site[1] if ":" not in site[1] else f"[{site[1]}]", settings.ALLOWED_HOSTS))


class SameOriginValidator:
    """Refuses (before accept) a WebSocket whose Origin is not this site's; see the module doc."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        origins = [value for name, value in scope.get("headers", []) if name == b"origin"]
        if not origins or (len(origins) == 1 and origin_allowed(scope, origins[0])):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)


def websocket_application():
    """The ASGI app for the "websocket" scope type: origin check, session user, routes."""
    return OutageGuard(SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))))
