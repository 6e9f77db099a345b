"""Regression: under daphne every request runs in its own context, so persistent connections
(CONN_MAX_AGE > 0) opened a new PostgreSQL connection per request and kept it open until garbage
collection. `make bench` hit "FATAL: sorry, too many clients already" within a minute. The web
process now borrows connections from a bounded pool (tradex/settings/database.py)."""
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from accounts.models import ApiKey
from tests.factories import make_account_with_key
from tests.ops.test_launcher import free_port

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = 400
CLIENTS = 8

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


def wait_until_serving(server: subprocess.Popen, url: str, deadline: float) -> None:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.URLError:
            if time.monotonic() > deadline:
                pytest.fail("daphne did not start")
        try:  # returns at once if daphne died; otherwise a short pause before retrying
            server.wait(timeout=0.1)
            pytest.fail(f"daphne exited: {server.stderr.read()}")
        except subprocess.TimeoutExpired:
            pass


def test_the_web_process_holds_a_bounded_number_of_database_connections():
    _account, key_id, secret = make_account_with_key()
    ApiKey.objects.filter(key_id=key_id).update(rate_limit_per_minute=100_000)  # 400 requests: above 200/min
    db = settings.DATABASES["default"]
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    server = subprocess.Popen([str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port),
                               "tradex.asgi:application"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        wait_until_serving(server, f"http://127.0.0.1:{port}/api/schema/", time.monotonic() + 60)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v2/orders",
                                         headers={"APCA-API-KEY-ID": key_id, "APCA-API-SECRET-KEY": secret})
        statuses = []

        def client():
            for _ in range(REQUESTS // CLIENTS):
                with urllib.request.urlopen(request, timeout=30) as resp:
                    statuses.append(resp.status)

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        assert statuses == [200] * REQUESTS
        # This test's own connection, plus at most the pool's maximum for the server.
        assert backends() <= 1 + db["OPTIONS"]["pool"]["max_size"]
    finally:
        server.terminate()
        server.wait(timeout=30)
