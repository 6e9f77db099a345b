"""The symbol page's chart in the system Chromium: a timeframe's history from the bars API, price
indicators over the candles and RSI/MACD in a pane of their own, with no script error."""
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in, off_loop
from tests.e2e.test_order_journey import DESKTOP

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]


def test_the_chart_draws_history_and_indicator_panes(live_tradex, browser):
    from exchange_sim.config import reference_specs
    from marketdata.bars.backfill import bars_backfill

    off_loop(bars_backfill, specs=reference_specs({"AAPL": Decimal("100.00")}), now=datetime.now(timezone.utc),
             seed=7, days=90, minute_days=2)
    page = browser.new_page(viewport=DESKTOP)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, live_tradex.url)
    page.goto(live_tradex.url + "/symbol/AAPL/")
    chart = page.locator("#chart")

    page.get_by_label("Timeframe").select_option("1Day")
    expect(chart).to_have_attribute("data-timeframe", "1Day")
    assert 55 <= int(chart.get_attribute("data-bars")) <= 65  # about 90 calendar days of sessions
    for indicator, pane in (("sma:20", "0"), ("bbands:20:2", "0"), ("rsi:14", "1"), ("macd:12:26:9", "1")):
        page.get_by_label("Indicators").select_option(indicator)
        expect(chart).to_have_attribute("data-indicator", indicator)
        assert chart.get_attribute("data-pane") == pane and int(chart.get_attribute("data-points")) > 20
    page.get_by_label("Timeframe").select_option("5Min")
    expect(chart).to_have_attribute("data-timeframe", "5Min")
    assert int(chart.get_attribute("data-bars")) > 100  # two sessions of 5-minute bars
    assert errors == []
