"""Journeys against the stack in embedded mode (the default `make run`): SQLite in a temporary
TRADEX_VAR_DIR, the in-memory channel layer, tasks in-process; the web process, the venues and
the FIX bridge (its own process today, inside the web process once it moves there)."""
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, log_in

from . import journeys
from .conftest import keep_running

pytestmark = pytest.mark.live
FILL_TIMEOUT_MS = 30000


@pytest.fixture(scope="module")
def stack(embedded_stack):
    return embedded_stack


@pytest.fixture(autouse=True)
def running(stack):
    keep_running(stack)


def test_ready_when_it_says_so(stack):
    """The "open http://" line comes once /readyz is 200, and an order sent right then fills."""
    journeys.readiness(stack, stack.probe)


def test_sequential_multi_symbol_burst(stack):
    journeys.sequential_burst(stack.traders["alice"])


def test_concurrent_clients_burst(stack):
    journeys.concurrent_burst([stack.traders[name] for name in ("bob", "carol", "dave", "erin")])


def test_a_fill_reaches_an_open_stream(stack):
    journeys.fill_reaches_stream(stack, stack.traders["alice"])


def test_a_fill_reaches_an_open_browser_tab(stack):
    """The ticket follows a market order to "filled" without a reload (the fill crosses from the
    bridge to the browser's socket), and the position appears."""
    if not Path(CHROMIUM).exists():  # .ci/run installs it; a run without it must not pass quietly
        pytest.fail("no system Chromium: apt-get install chromium (the journeys never download one)")
    alice = stack.traders["alice"]
    held = alice.positions().get("KO", 0)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            log_in(page, stack.url, alice.username, alice.password)
            ticket = page.locator("#ticket")
            ticket.get_by_label("Symbol").fill("KO")
            ticket.get_by_label("Side").select_option("buy")
            ticket.get_by_label("Order type").select_option("market")
            ticket.get_by_label("Quantity").fill("1")
            ticket.locator("button[type=submit]").click()
            status = page.locator("#ticket-status")
            expect(status).to_have_attribute("data-status", "filled", timeout=FILL_TIMEOUT_MS)
            expect(page.locator('#positions tr[data-symbol="KO"] td').first).to_have_text(str(held + 1))
        finally:
            browser.close()


@pytest.mark.parametrize("role", ["bridge", "venues"])
def test_kill_a_role_mid_burst(stack, role):
    """"bridge": the process the FIX bridge runs in (the web process, where the feed also runs,
    once the bridge moves there)."""
    journeys.kill_mid_burst(stack, stack.traders["alice"], stack.probe,
                            journeys.bridge_role(stack) if role == "bridge" else role)


def test_full_stack_restart(stack):
    """Next to last: it stops the stack and starts it again on the same SQLite file."""
    journeys.full_restart(stack, list(stack.traders.values()), stack.probe)


def test_notional_and_fractional_orders_fill(stack):
    """Last (after the restart, on the restarted stack): before its fix, one dollar-amount order
    stopped the bridge's outbox for every later order (issue 13, item 1)."""
    journeys.notional_and_fractional(stack.traders["alice"])
