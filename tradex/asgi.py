"""ASGI entry point for daphne: HTTP through Django, WebSockets through Channels."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradex.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from tradex.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": websocket_application(),
    }
)


def _start_embedded_feed() -> None:
    """Embedded mode: the feed handler runs in this (the only) web process, so the in-memory
    channel layer and cache it writes are the ones the WebSockets and the API read. In production
    mode it is its own process (`manage.py run_feed`)."""
    from django.conf import settings

    if settings.EMBEDDED:
        from marketdata.feed.runtime import feed_handler_from_settings

        feed_handler_from_settings().start()


_start_embedded_feed()
