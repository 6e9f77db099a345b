"""ASGI entry point for daphne: HTTP through Django, WebSockets through Channels."""
import atexit
import logging
import os
import threading

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradex.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from tradex.ws_routes import websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": websocket_application(),
    }
)


def _start_in_process_roles() -> None:
    """Without Redis the channel layer and the quote cache live in one process's memory, so the
    roles that write to them run in this, the only web process: the feed handler (quotes, trades,
    bars) and the FIX bridge (acknowledgements, fills, cancels pushed to /stream and
    /ws/terminal). With Redis each is its own process (`manage.py run_feed`, `run_fixbridge`,
    started by the launcher). The venues are always their own process, reached over TCP.
    Started on threads: a database not migrated yet costs the web its market data and its
    routing (readiness says so), not its life."""
    if settings.REDIS_URL:
        return
    log = logging.getLogger(__name__)

    def start_feed():
        # Embedded mode only, on the role's own thread: a role that cannot start costs the web that role.
        from marketdata.feed.runtime import feed_handler_from_settings

        try:
            feed_handler_from_settings().start()
        except Exception:
            log.exception("in-process feed handler did not start")

    def start_bridge():
        # Embedded mode only, on its own thread (QuickFIX is loaded here, not by every web process).
        from orders.fixbridge.process import bridge_with_watchers

        logging.getLogger("orders.fixbridge.bridge").setLevel(logging.INFO)  # session up/down lines
        try:
            bridge, held = bridge_with_watchers()
            bridge.start()
        except Exception:
            log.exception("in-process FIX bridge did not start")
            return
        # daphne exits normally on SIGTERM: the bridge logs out and marks its sessions down.
        atexit.register(bridge.stop)
        print(f"fixbridge (in the web process): sessions to {', '.join(v[0] for v in bridge.venues)}; "
              f"{held} held orders watched", flush=True)

    threading.Thread(target=start_feed, name="in-process-feed", daemon=True).start()
    threading.Thread(target=start_bridge, name="in-process-fixbridge", daemon=True).start()


_start_in_process_roles()
