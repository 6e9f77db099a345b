"""Liveness and readiness probes: `GET /healthz` (this process answers) and `GET /readyz` (the stack
can take and fill an order now).

/readyz checks, each {"ok": bool, ...; "error": "..." when not ok}:
- database: a `SELECT 1` answers;
- redis: PING answers (when REDIS_URL is set; {"ok": true, "configured": false} otherwise);
- venues: every configured venue's FIX session is up (the Venue rows the bridge maintains);
- quotes: the freshest quote in the quote cache, over every asset, is at most
  TRADEX_READY_QUOTE_SECONDS old (the feed is connected and the venues' makers are quoting).
200 with {"ready": true, ...} when all pass, else 503 with the failing check names in "failing".
Plain Django views, no authentication: probes come from the launcher, load balancers and tests.
"""
import os
import time
from datetime import datetime

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from marketdata.selectors import asset_symbols, latest_quotes
from orders.models import Venue


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True}


def check_redis() -> dict:
    if not settings.REDIS_URL:
        return {"ok": True, "configured": False}

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return {"ok": True, "configured": True}


def check_venues() -> dict:
    configured = [name for name, _host, _port in settings.TRADEX_VENUES]
    up = set(Venue.objects.filter(name__in=configured, session=Venue.Session.UP).values_list("name", flat=True))
    down = [name for name in configured if name not in up]
    result = {"ok": not down, "up": sorted(up), "down": down}
    if down:
        result["error"] = f"FIX session down: {', '.join(down)}"
    return result


def check_quotes(*, now: float | None = None) -> dict:
    quotes = latest_quotes(asset_symbols())
    now = time.time() if now is None else now
    max_age = settings.TRADEX_READY_QUOTE_SECONDS  # older: the feed (or the venues' makers) stopped
    ages = {s: now - datetime.fromisoformat(q["t"].replace("Z", "+00:00")).timestamp() for s, q in quotes.items()}
    result = {"ok": False, "max_age_seconds": max_age}
    if not ages:
        return {**result, "error": "no quote in the quote cache yet"}
    symbol = min(ages, key=ages.get)
    result.update(symbol=symbol, age_seconds=round(ages[symbol], 3))
    if ages[symbol] > max_age:
        return {**result, "error": f"the freshest quote ({symbol}) is {ages[symbol]:.1f} s old"}
    return {**result, "ok": True}


CHECKS = {"database": check_database, "redis": check_redis, "venues": check_venues, "quotes": check_quotes}
# Checks that read the database (venue rows, the asset list): not tried when it is unreachable, so
# an outage costs the probe one connection timeout, not three.
NEEDS_DATABASE = ("venues", "quotes")


def readiness() -> dict:
    checks = {}
    for name, check in CHECKS.items():
        if name in NEEDS_DATABASE and not checks["database"]["ok"]:
            checks[name] = {"ok": False, "error": "not checked: the database is unreachable"}
            continue
        try:
            checks[name] = check()
        except Exception as exc:  # an unreachable dependency is this probe's answer, not its failure
            checks[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}".strip()[:300]}
    failing = [name for name, result in checks.items() if not result["ok"]]
    return {"ready": not failing, "checks": checks, "failing": failing}


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok", "pid": os.getpid()})


@never_cache
@require_GET
def readyz(request):
    body = readiness()
    return JsonResponse(body, status=200 if body["ready"] else 503)
