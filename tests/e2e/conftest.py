"""End-to-end: the system Chromium (Playwright for Python, never `playwright install`) against a
live TradeX started as `make run` starts it (`manage.py run_tradex`: daphne, Celery worker, the
simulated venues and the FIX bridge), on the test database and the suite's Redis.

Playwright's sync API keeps an event loop running in the test's thread, so Django's ORM and
async_to_sync are called from a helper thread (`off_loop`), as any other client would."""
import concurrent.futures
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections

from tests.factories import make_account, make_asset

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT = 90
PASSWORD = "e2e-pass-word-123"
PRICES = {"AAPL": Decimal("100.00"), "MSFT": Decimal("200.00")}

pytestmark = pytest.mark.live


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def off_loop(fn, *args, **kwargs):
    def call():
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()  # this thread's connection, or the test database cannot be dropped

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result(timeout=30)


class LiveTradeX:
    def __init__(self, tmp_path: Path):
        self.port = free_port()
        db = settings.DATABASES["default"]
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",  # the test database
            "REDIS_URL": os.environ["REDIS_URL"], "WEB_CONCURRENCY": "1", "TRADEX_MARKET_CLOCK": "always_open",
            "TRADEX_VENUE_COUNT": "1", "TRADEX_VENUE_BASE_PORT": str(free_port()),
            "TRADEX_OUTBOX_DOORBELL_PORT": str(free_port()), "TRADEX_VAR_DIR": str(tmp_path / "var"),
            "TRADEX_FIX_DIR": str(tmp_path / "fix"), "PYTHONUNBUFFERED": "1",
        })
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.proc = subprocess.Popen([sys.executable, "manage.py", "run_tradex", "--host", "127.0.0.1", "--port",
                                      str(self.port)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}"

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for_line(self, pattern: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                break
            self.output.append(line)
            if re.search(pattern, line):
                return
        pytest.fail(f"no {pattern!r} from the launcher; output:\n{''.join(self.output)}")

    def stop(self):
        while not self.lines.empty():  # what the processes said, shown by pytest if the test failed
            self.output.append(self.lines.get_nowait())
        print("".join(self.output[-200:]))
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def live_tradex(transactional_db, tmp_path):
    """Assets, a funded trader and only the one venue the live server runs; then the server,
    waited for until it says it is ready (the bridge has logged on to the venue, quotes flow)."""
    from orders.models import Venue

    for symbol, price in PRICES.items():
        make_asset(symbol, price=price)
    account = make_account(cash="100000", username="trader")
    account.user.set_password(PASSWORD)
    account.user.save()
    Venue.objects.exclude(name="SIMA").delete()
    Venue.objects.filter(name="SIMA").update(session="down")  # up again when the live bridge logs on
    call_command("collectstatic", "--noinput", verbosity=0)
    server = LiveTradeX(tmp_path)
    try:
        # Printed once /readyz says ready: the bridge has marked the venue up (orders route from
        # then on) and quotes flow.
        server.wait_for_line(r"open http://", START_TIMEOUT)
        server.account = account
        yield server
    finally:
        server.stop()


@pytest.fixture
def browser(live_tradex):
    if not Path(CHROMIUM).exists():  # .ci/run installs it; a run without it must not pass quietly
        pytest.fail("no system Chromium: apt-get install chromium (the browser tests never download one)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = CspWatchedBrowser(p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS))
        yield browser
        violations = list(browser.csp_violations)
        browser.close()
    assert not violations, "the Content-Security-Policy refused something:\n" + "\n".join(violations)


class CspWatchedBrowser:
    """The browser, whose every context records console messages about the Content-Security-Policy
    (Chromium logs each refused script, style or connection there); the fixture fails on any."""

    def __init__(self, browser):
        self._browser = browser
        self.csp_violations: list[str] = []

    def __getattr__(self, name):
        return getattr(self._browser, name)

    def _record(self, message) -> None:
        if "Content Security Policy" in message.text:
            self.csp_violations.append(f"{message.type}: {message.text} ({message.location.get('url')})")

    def new_context(self, **kwargs):
        context = self._browser.new_context(**kwargs)
        context.on("console", self._record)
        return context

    def new_page(self, **kwargs):
        return self.new_context(**kwargs).new_page()


def log_in(page, base_url: str, username: str = "trader", password: str = PASSWORD):
    page.goto(base_url + "/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base_url + "/")
    page.locator('#conn[data-state="live"]').wait_for(timeout=15000)
