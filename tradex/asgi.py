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
    """Embedded mode (no PostgreSQL, no Redis): the feed handler runs in this, the only web
    process, so the in-memory channel layer and cache it writes are the ones the WebSockets and
    the API read. Otherwise it is its own process (`manage.py run_feed`, started by the launcher).
    Started on a thread: a database not migrated yet costs the web its market data, not its life."""
    import logging
    import threading

    from django.conf import settings

    if not (settings.EMBEDDED and not settings.REDIS_URL):
        return

    def start():
        from marketdata.feed.runtime import feed_handler_from_settings

        try:
            feed_handler_from_settings().start()
        except Exception:
            logging.getLogger(__name__).exception("embedded feed handler did not start")

    threading.Thread(target=start, name="embedded-feed", daemon=True).start()


_start_embedded_feed()
