"""Content-Security-Policy (django-csp) on every response: scripts, styles, fonts and images from
this site only, sockets and fetches to this site only, no plugins, no framing, forms post here.

Nothing inline: the terminal's and the admin's scripts and styles are static files, so an injected
<script> or on*= handler does not run. The API docs page (/api/docs/) alone allows inline styles
(drf-spectacular's Swagger UI page has a <style> block); see tradex/urls.py."""
from csp.constants import NONE, SELF

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
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
