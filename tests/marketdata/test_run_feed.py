"""`manage.py run_feed` as its own process, as the launcher runs it: it reads a venue feed over
TCP, reports its counters (`manage.py feed_status`) and, stopped with SIGTERM, stores everything it
had read before exiting."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from exchange_sim.feed import FeedPublisher
from exchange_sim.firehose import Firehose, firehose_symbols
from core.wire import feed_protocol as fp

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("empty_tick_store"), pytest.mark.live]
ROOT = Path(__file__).resolve().parents[2]


def child_env() -> dict:
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"  # the test database
    return {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}


def manage(*args, **kw):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=child_env(), capture_output=True,
                          text=True, timeout=60, **kw)


def test_run_feed_process_reports_and_stores_everything_on_sigterm():
    pub = FeedPublisher("SIMA", firehose_symbols(20)).start()
    proc = subprocess.Popen([sys.executable, "manage.py", "run_feed", "--venue", f"SIMA@127.0.0.1:{pub.port}"],
                            cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "feed: reading SIMA" in proc.stdout.readline()
        assert pub.subscribed.wait(30)
        records = Firehose(pub, rate=1).batch(2000)
        pub.publish_records(records)
        # wait until its counters (published every second) show all 2000 received
        for _ in range(60):
            status = manage("feed_status")
            if status.returncode == 0 and json.loads(status.stdout)["venues"]["SIMA"]["received"] == 2000:
                break
        else:
            pytest.fail(f"feed_status never showed the records: {status.stdout} {status.stderr}")
        stats = json.loads(status.stdout)
        assert stats["venues"]["SIMA"]["gaps"] == 0 and stats["venues"]["SIMA"]["connected"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        pub.stop()
    assert proc.returncode == 0, out
    quotes = int((records["kind"] == fp.QUOTE).sum())
    trades = len(records) - quotes
    assert f"quotes received {quotes} stored {quotes}, trades received {trades} stored {trades}" in out
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM marketdata_quote_tick")
        assert cursor.fetchone()[0] == quotes
