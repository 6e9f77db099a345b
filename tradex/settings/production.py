"""Production: everything from the environment, HTTPS only. `manage.py check --deploy` is clean.

`make run` with DATABASE_URL set runs these settings (tradex/launcher.py, production_env). On a
loopback address it sets TRADEX_INSECURE_HTTP=1: a browser on the same machine reaches it over
plain http://, so the HTTPS redirect, HSTS and Secure cookies are off there; everything else
(DEBUG off, the secret, allowed hosts) stays as in production."""
import os

from . import *  # noqa: F401,F403
from .base import require_env

DEBUG = False
SECRET_KEY = require_env("DJANGO_SECRET_KEY")
# Signs audit archive manifests (compliance/retention.py): no development default in production.
TRADEX_ARCHIVE_SIGNING_KEY = require_env("TRADEX_ARCHIVE_SIGNING_KEY")
ALLOWED_HOSTS = require_env("DJANGO_ALLOWED_HOSTS").split(",")
INSECURE_HTTP = os.environ.get("TRADEX_INSECURE_HTTP", "0") == "1"

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = not INSECURE_HTTP
# Probes (load balancers, the launcher) ask over plain HTTP inside the deployment.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = 0 if INSECURE_HTTP else 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = not INSECURE_HTTP
SECURE_HSTS_PRELOAD = not INSECURE_HTTP
SESSION_COOKIE_SECURE = not INSECURE_HTTP
CSRF_COOKIE_SECURE = not INSECURE_HTTP
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
