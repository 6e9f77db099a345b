"""Browser-facing security: the Content-Security-Policy, and the origins WebSockets accept.

Content-Security-Policy (django-csp) on every response: scripts, styles, fonts and images from
this site only, sockets and fetches to this site only, no plugins, no framing, forms post here.

Nothing inline but the chart logo's style: the terminal's and the admin's scripts and styles are static files, so an injected
<script> or on*= handler does not run. The API docs page (/api/docs/) alone allows inline styles
(drf-spectacular's Swagger UI page has a <style> block); see tradex/urls.py."""
import os
from urllib.parse import urlsplit

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

# The one <style> element the vendored chart library (lightweight-charts 5.2.1) inserts: its
# TradingView attribution logo's rule, allowed by its hash (tests/ops/test_csp.py recomputes it
# from the vendored file, so an upgrade that changes it fails there, not silently in the browser).
CHART_LOGO_STYLE = "'sha256-3pRED1tOXas1FXFoPb9TGCjmYe9XQsmO9OV23khV2nY='"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, CHART_LOGO_STYLE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        # 'self' covers ws:// and wss:// to this host (CSP level 3), the terminal's one socket.
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}


def _origins(raw: str) -> list[str]:
    origins = [o.strip().lower().rstrip("/") for o in raw.split(",") if o.strip()]
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
            raise ImproperlyConfigured(f"TRADEX_ALLOWED_ORIGINS: {origin!r} is not scheme://host[:port]")
    return origins


# A browser's WebSocket is accepted from a page of this site only: its Origin's scheme, host and
# port must be the ones the socket came to (tradex/ws_routes.py). Pages served from elsewhere (another
# port, a separate front end) are listed here, comma-separated, as scheme://host[:port].
TRADEX_ALLOWED_ORIGINS = _origins(os.environ.get("TRADEX_ALLOWED_ORIGINS", ""))
