"""Portfolio history from the equity snapshots Celery records (GET /v2/account/portfolio/history,
Alpaca's shape, parsed by alpaca-py's PortfolioHistory)."""
from datetime import datetime, timedelta, timezone as dt_timezone
from decimal import Decimal

import pytest
from alpaca.trading.models import PortfolioHistory

from marketdata.selectors import last_price_set
from portfolio.models import EquitySnapshot
from portfolio.tasks import equity_snapshot_eod, equity_snapshot_intraday
from portfolio.history import equity_snapshots_record
from tests.api.conftest import Trader

from .conftest import trade

D = Decimal
DAY = datetime(2026, 3, 2, 0, 0, tzinfo=dt_timezone.utc)


def test_snapshots_value_every_account_and_a_rerun_writes_nothing(db, aapl, settings):
    settings.TRADEX_EQUITY_SNAPSHOT_SECONDS = 300
    trader = Trader(cash="10000", account_type="margin")
    trade(trader.account, "buy", 10, "100")
    last_price_set("AAPL", D("105"))
    at = DAY + timedelta(hours=15, minutes=7)
    assert equity_snapshots_record(kind="intraday", now=at) >= 1
    assert equity_snapshots_record(kind="intraday", now=at + timedelta(minutes=1)) == 0  # same 5-min interval
    snap = EquitySnapshot.objects.get(account=trader.account)
    assert (snap.at, snap.equity, snap.long_market_value) == (DAY + timedelta(hours=15, minutes=5), D("10050.00"),
                                                              D("1050.00"))


def test_the_celery_tasks_record_snapshots(db, aapl):
    trader = Trader(cash="500")
    equity_snapshot_intraday.apply().get()
    equity_snapshot_eod.apply().get()
    assert set(EquitySnapshot.objects.filter(account=trader.account).values_list("kind", "equity")) == \
        {("intraday", D("500.00")), ("eod", D("500.00"))}


def test_history_daily_and_intraday(db, aapl):
    trader = Trader(cash="1000")
    now = datetime.now(dt_timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    for n, equity in enumerate(["1000", "1100", "990"]):
        EquitySnapshot.objects.create(account=trader.account, kind="eod", at=now - timedelta(days=3 - n),
                                      equity=D(equity), cash=D(equity))
    body = trader.client.get("/v2/account/portfolio/history?period=1W&timeframe=1D").json()
    assert body["equity"] == [1000, 1100, 990] and body["profit_loss"] == [0, 100, -10]
    assert body["profit_loss_pct"] == [0, 0.1, -0.01] and body["base_value"] == 1000 and body["timeframe"] == "1D"
    assert body["timestamp"] == [int((now - timedelta(days=d)).timestamp()) for d in (3, 2, 1)]
    PortfolioHistory(**body)
    # Intraday: five-minute snapshots in 15-minute windows, the window's last one, left-labeled.
    start = now - timedelta(hours=1)
    for i, equity in enumerate(["1000", "1001", "1002", "1003", "1004"]):
        EquitySnapshot.objects.create(account=trader.account, kind="intraday", at=start + timedelta(minutes=5 * i),
                                      equity=D(equity), cash=D(equity))
    body = trader.client.get("/v2/account/portfolio/history?period=1D&timeframe=15Min").json()
    assert body["equity"] == [1002, 1004]
    assert body["timestamp"] == [int(start.timestamp()), int((start + timedelta(minutes=15)).timestamp())]
    # Another account's snapshots are not shown.
    other = Trader(cash="5")
    assert other.client.get("/v2/account/portfolio/history?period=1W&timeframe=1D").json()["equity"] == []


@pytest.mark.parametrize("query, code", [("period=0D", "invalid_period"), ("period=1Y", "invalid_period"),
                                         ("timeframe=2H", "invalid_timeframe"), ("date_end=yesterday", "invalid_date_end")])
def test_bad_history_queries_are_refused(db, query, code):
    trader = Trader()
    response = trader.client.get(f"/v2/account/portfolio/history?{query}")
    assert response.status_code == 422 and response.json()["reason"] == code, response.json()
