"""`GET /healthz` and `GET /readyz` (tradex/health.py): ready, and each reason for not being ready."""
import json
import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from django.conf import settings

from marketdata.selectors import latest_quote_set
from orders.models import Venue
from tests.factories import make_asset

ROOT = Path(__file__).resolve().parents[2]


def quote(age_seconds: float) -> dict:
    t = datetime.now(timezone.utc) - timedelta(seconds=age_seconds)
    return {"t": t.isoformat().replace("+00:00", "Z"), "bx": "V", "bp": "99.99", "bs": "100", "ax": "V",
            "ap": "100.01", "as": "100", "c": ["R"], "z": "C"}


@pytest.fixture
def stack_up(db):
    """What a running stack leaves: assets, every venue's session up (tests/conftest.py), a fresh quote."""
    make_asset("AAPL")
    make_asset("MSFT")
    latest_quote_set("AAPL", quote(30))
    latest_quote_set("MSFT", quote(0.5))


def get(client, path):
    response = client.get(path)
    assert response["Content-Type"] == "application/json"
    return response.status_code, json.loads(response.content)


def test_healthz_answers_without_a_database(client):
    status, body = get(client, "/healthz")

    assert status == 200 and body == {"status": "ok", "pid": os.getpid()}


def test_readyz_is_200_when_every_check_passes(client, stack_up):
    status, body = get(client, "/readyz")

    assert status == 200, body
    names = [name for name, _host, _port in settings.TRADEX_VENUES]
    assert body == {
        "ready": True, "failing": [],
        "checks": {
            "database": {"ok": True},
            "redis": {"ok": True, "configured": True},
            "venues": {"ok": True, "up": sorted(names), "down": []},
            "quotes": {"ok": True, "symbol": "MSFT", "age_seconds": body["checks"]["quotes"]["age_seconds"],
                       "max_age_seconds": settings.TRADEX_READY_QUOTE_SECONDS},
        },
    }
    assert 0 <= body["checks"]["quotes"]["age_seconds"] < 5


def test_readyz_is_503_while_a_venue_session_is_down(client, stack_up):
    name = settings.TRADEX_VENUES[-1][0]
    Venue.objects.filter(name=name).update(session=Venue.Session.DOWN)

    status, body = get(client, "/readyz")

    assert status == 503
    assert body["ready"] is False and body["failing"] == ["venues"]
    assert body["checks"]["venues"]["down"] == [name]
    assert body["checks"]["venues"]["error"] == f"FIX session down: {name}"


def test_readyz_is_503_before_the_bridge_has_written_its_venue_rows(client, stack_up):
    Venue.objects.all().delete()

    status, body = get(client, "/readyz")

    assert status == 503 and body["failing"] == ["venues"]
    assert body["checks"]["venues"]["up"] == []


def test_readyz_is_503_before_the_first_quote(client, db):
    make_asset("AAPL")

    status, body = get(client, "/readyz")

    assert status == 503 and body["failing"] == ["quotes"]
    assert body["checks"]["quotes"]["error"] == "no quote in the quote cache yet"


def test_readyz_is_503_when_quotes_stopped_flowing(client, db):
    make_asset("AAPL")
    latest_quote_set("AAPL", quote(settings.TRADEX_READY_QUOTE_SECONDS + 20))

    status, body = get(client, "/readyz")

    assert status == 503 and body["failing"] == ["quotes"]
    assert body["checks"]["quotes"]["symbol"] == "AAPL"
    assert "the freshest quote (AAPL) is" in body["checks"]["quotes"]["error"]


def closed_port() -> int:
    """A port nothing listens on (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readiness_with(**env) -> dict:
    """readiness() in a process of its own, against the given DATABASE_URL / REDIS_URL."""
    code = "import django, json; django.setup(); from tradex.health import readiness; print(json.dumps(readiness()))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "tradex.settings", **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.django_db
def test_readyz_reports_redis_unreachable():
    db = settings.DATABASES["default"]
    body = readiness_with(DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
                          REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")

    assert body["ready"] is False
    assert body["checks"]["database"] == {"ok": True}
    assert "redis" in body["failing"] and "ConnectionError" in body["checks"]["redis"]["error"]


def test_readyz_reports_the_database_unreachable_and_skips_what_reads_it():
    body = readiness_with(DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed_port()}/nowhere")

    assert body["ready"] is False
    assert body["failing"] == ["database", "venues", "quotes"]
    assert body["checks"]["database"]["error"].startswith("OperationalError")
    assert body["checks"]["venues"]["error"] == "not checked: the database is unreachable"
    assert body["checks"]["redis"] == {"ok": True, "configured": True}
