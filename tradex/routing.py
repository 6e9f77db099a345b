"""WebSocket routes, and what every WebSocket passes through before its consumer.

Outages: tradex.asgi_guard answers a database or Redis failure with a JSON frame and close 1013.

Origin: a browser always sends one, and it must name one of ALLOWED_HOSTS, so another site's page
cannot use a signed-in user's session cookie (cross-site WebSocket hijacking). A connection without
an Origin header is not a browser's (alpaca-py and other API clients send none) and authenticates
with its API key frame, so it is let through; channels' AllowedHostsOriginValidator would refuse it.
"""
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import path, re_path

from frontend.consumers import TerminalConsumer
from marketdata.stream.consumer import StockDataConsumer
from orders.consumers import TradeUpdatesConsumer
from tradex.asgi_guard import OutageGuard

websocket_urlpatterns: list = [
    path("stream", TradeUpdatesConsumer.as_asgi()),  # Alpaca's trade-updates stream
    path("ws/terminal", TerminalConsumer.as_asgi()),  # the web terminal's one socket per tab
    # Alpaca's stock data stream v2; every feed name serves the same (TradeX's) consolidated feed.
    re_path(r"^v2/(?P<feed>sip|iex|delayed_sip|test)$", StockDataConsumer.as_asgi()),
]


class BrowserOriginValidator(OriginValidator):
    def valid_origin(self, parsed_origin) -> bool:
        return parsed_origin is None or super().valid_origin(parsed_origin)


def websocket_application():
    """The ASGI app for the "websocket" scope type: origin check, session user, routes."""
    return OutageGuard(BrowserOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
                                              settings.ALLOWED_HOSTS))
