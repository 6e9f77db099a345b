"""The trader's journey in the real browser against the live server with venues and FIX bridge:
log in → the watchlist shows prices, and they move live (market data published into the channel
layer by the test: the feed process lives on another branch) → buy 10 at market from the ticket
→ filled without a reload → the position appears → sell half → realized P&L shown → a limit far
from the market rests and is canceled → an invalid order shows the risk reason. Screenshots of
each page at desktop and phone widths go to docs/screenshots/."""
import os
import re
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from marketdata.groups import symbol_group
from core.realtime import publisher
from tests.e2e.conftest import log_in, off_loop

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]
# `E2E_SCREENSHOTS=1` refreshes the committed ones in docs/screenshots/; otherwise they go to a
# temporary directory (a test run leaves the work tree as it was).
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots" if os.environ.get("E2E_SCREENSHOTS") else None
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
FILL_TIMEOUT = 20000


def publish_quote(symbol: str, price: str):
    message = {"type": "md.update", "symbol": symbol, "sent_ns": 0, "q": None, "b": [],
               "t": [{"T": "t", "S": symbol, "i": 1, "x": "V", "p": price, "s": "100", "t": "2026-01-01T15:00:00Z",
                      "c": [], "z": "C"}]}
    # As the feed would: through the process's one publishing loop (orders.events), awaited.
    publisher.send(symbol_group(symbol), message).result(timeout=10)


def _db(fn):
    return off_loop(fn)


def _position(account_id, symbol):
    from portfolio.models import Position

    return Position.objects.filter(account_id=account_id, symbol=symbol).first()


def _money(value: Decimal) -> str:
    sign = "+" if value > 0 else ("−" if value < 0 else "")
    return f"{sign}${abs(value):,.2f}"


def shoot(page, name: str):
    directory = SHOTS or Path(tempfile.gettempdir()) / "tradex-e2e-screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(directory / f"{name}.png"), full_page=False)


def place(page, *, side: str, qty: str, order_type: str = "market", limit: str | None = None):
    ticket = page.locator("#ticket")
    ticket.get_by_label("Symbol").fill("AAPL")
    ticket.get_by_label("Side").select_option(side)
    ticket.get_by_label("Order type").select_option(order_type)
    ticket.get_by_label("Quantity").fill(qty)
    if limit is not None:
        ticket.get_by_label("Limit price").fill(limit)
    ticket.locator("button[type=submit]").click()


def test_the_trader_journey(live_tradex, browser):
    base = live_tradex.url
    account_id = live_tradex.account.pk
    context = browser.new_context(viewport=DESKTOP)  # one cookie jar: the tabs of one login
    page = context.new_page()
    log_in(page, base)

    # Watchlist with live prices.
    page.goto(base + "/watchlists/")
    page.locator('#conn[data-state="live"]').wait_for()
    page.get_by_label("New watchlist name").fill("Tech")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#wl-rows")).to_contain_text("This list is empty")
    page.get_by_label("Find an asset (symbol or name)").fill("AAPL")
    page.get_by_role("button", name="Add", exact=True).click()
    price_cell = page.locator('#wl-rows tr[data-symbol="AAPL"] td.price')
    expect(price_cell).not_to_have_text("—")  # the snapshot sent on subscribe
    publish_quote("AAPL", "101.25")
    expect(price_cell).to_have_text("101.25")  # pushed over the socket, no reload
    shoot(page, "watchlists-desktop")

    # Buy 10 at market: the status follows the venue to filled without a reload.
    page.goto(base + "/")
    page.locator('#conn[data-state="live"]').wait_for()
    place(page, side="buy", qty="10")
    status = page.locator("#ticket-status")
    expect(status).to_have_attribute("data-status", "filled", timeout=FILL_TIMEOUT)
    expect(status).to_contain_text("Filled")
    row = page.locator('#positions tr[data-symbol="AAPL"]')
    expect(row.locator("td").first).to_have_text("10")

    # Sell half: realized P&L shown, equal to the ledger's.
    place(page, side="sell", qty="5")
    expect(status).to_have_attribute("data-status", "filled", timeout=FILL_TIMEOUT)
    expect(row.locator("td").first).to_have_text("5")
    position = _db(lambda: _position(account_id, "AAPL"))
    assert position.qty == 5
    expect(row.locator("td.realized")).to_have_text(_money(position.realized_pl))
    expect(page.locator("#f-realized")).to_contain_text(_money(position.realized_pl))
    shoot(page, "dashboard-desktop")

    # A limit far below the market rests, shows in open orders, and is canceled from there.
    place(page, side="buy", qty="1", order_type="limit", limit="92.00")
    expect(status).to_have_attribute("data-status", "new", timeout=FILL_TIMEOUT)
    open_row = page.locator("#orders tr", has_text="limit")
    expect(open_row).to_have_count(1)
    open_row.get_by_role("button", name="Cancel buy AAPL").click()
    # The cancel is requested (pending_cancel) and ends when the venue confirms it, without a reload.
    expect(status).to_have_attribute("data-status", "canceled", timeout=FILL_TIMEOUT)
    expect(page.locator("#orders")).to_contain_text("No open orders.")

    # An order the risk checks refuse: the reason, in words, on the ticket; nothing placed.
    place(page, side="buy", qty="1500")
    expect(status).to_have_attribute("data-status", "refused")
    expect(status).to_contain_text("buying power")

    # Every page at desktop and phone width.
    for width_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        for name, path in (("dashboard", "/"), ("watchlists", "/watchlists/"), ("symbol", "/symbol/AAPL/"),
                           ("orders", "/orders/"), ("alerts", "/alerts/"), ("documents", "/documents/"),
                           ("security", "/security/")):
            page.goto(base + path)
            page.locator('#conn[data-state="live"]').wait_for()
            if name == "orders":
                page.locator("#rows tr[data-order-id]").first.wait_for()
            shoot(page, f"{name}-{width_name}")
    # The dark theme, chosen with its button (remembered across pages).
    page.set_viewport_size(DESKTOP)
    page.goto(base + "/")
    page.get_by_role("button", name="Dark theme").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.goto(base + "/symbol/AAPL/")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.goto(base + "/")
    page.locator('#positions tr[data-symbol="AAPL"]').wait_for()
    shoot(page, "dashboard-dark-desktop")

    # Logging out in one tab closes the socket of the session's other tab, which goes to the login.
    other = context.new_page()
    other.goto(base + "/orders/")
    other.locator('#conn[data-state="live"]').wait_for()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(base + "/login/")
    other.wait_for_url(re.compile(r"/login/"))
    context.close()
