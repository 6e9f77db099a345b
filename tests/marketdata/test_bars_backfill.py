"""The history seed_demo writes: a year of bars on the real NYSE calendar, from the simulator's walk."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from exchange_sim.config import reference_specs
from marketdata.bars import backfill
from marketdata.calendar import sessions
from marketdata.models import DailyBar, MinuteBar
from tests.marketdata.bars_fixtures import NOW, PRICES, seed_bars

pytestmark = pytest.mark.django_db
D = Decimal


def test_only_trading_minutes_of_real_sessions_up_to_the_last_completed_one():
    # Given 45 calendar days ending 2026-03-11 (Presidents' Day 2026-02-16 inside), 1-minute bars for 3 sessions
    done = seed_bars(("AAPL",), days=45, minute_days=3)
    expected = [s for s in sessions(date(2026, 1, 26), date(2026, 3, 11)) if s.date > date(2026, 3, 11) - timedelta(45)]
    assert done["last_session"] == date(2026, 3, 11) and done["first_session"] == expected[0].date
    # Then one daily bar per session, none on the holiday or weekends
    days = list(DailyBar.objects.filter(symbol="AAPL").order_by("start").values_list("start", flat=True))
    assert [d.astimezone(backfill.xnys_sessions.__globals__["NEW_YORK"]).date() for d in days] == [s.date for s in expected]
    assert date(2026, 2, 16) not in [s.date for s in expected]
    # And the 1-minute bars are exactly the regular-session minutes of the last 3 sessions
    minutes = list(MinuteBar.objects.filter(symbol="AAPL").order_by("start").values_list("start", flat=True))
    wanted = [s.open + timedelta(minutes=i) for s in expected[-3:] for i in range(int((s.close - s.open).seconds // 60))]
    assert minutes == wanted and len(minutes) == 3 * 390


def test_early_close_sessions_stop_at_the_early_close():
    # The day after Thanksgiving 2025 closes at 13:00 New York
    now = NOW.replace(year=2025, month=11, day=28, hour=19)
    p = backfill.plan(now=now, days=3, minute_days=1)
    assert p.sessions[-1].date == date(2025, 11, 28)
    minutes, _ = backfill._minutes_of(p.minute_sessions)
    assert len(minutes) == 210  # 09:30 to 13:00


def test_history_ends_at_the_reference_price_and_daily_bars_aggregate_the_minutes():
    seed_bars(("AAPL", "MSFT"), days=10, minute_days=10)
    for symbol in ("AAPL", "MSFT"):
        last = MinuteBar.objects.filter(symbol=symbol).order_by("-start").first()
        assert last.close == PRICES[symbol]  # where the live simulator starts
    with connection.cursor() as cur:
        cur.execute("""
            SELECT count(*) FROM marketdata_bar_1day d JOIN LATERAL (
              SELECT (array_agg(open ORDER BY start))[1] o, max(high) h, min(low) l,
                     (array_agg(close ORDER BY start DESC))[1] c, sum(volume) v, sum(trade_count) n, sum(notional) nt
              FROM marketdata_bar_1min m WHERE m.symbol = d.symbol AND m.start >= d.open_ts AND m.start < d.close_ts
            ) a ON true
            WHERE (d.open, d.high, d.low, d.close, d.volume, d.trade_count, d.notional) = (a.o, a.h, a.l, a.c, a.v, a.n, a.nt)
              AND d.vwap = round(a.nt / a.v, 4)""")
        assert cur.fetchone()[0] == DailyBar.objects.count() == 2 * len(backfill.plan(now=NOW, days=10).sessions) == 16
    # Every bar is consistent: low <= open, close, vwap <= high
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FILTER (WHERE NOT (low <= open AND open <= high AND low <= close AND close <= high "
                    "AND low <= vwap AND vwap <= high AND volume > 0)), count(*) FROM marketdata_bar_1min")
        assert cur.fetchone() == (0, 16 * 390)  # 2 symbols x 8 full sessions


def test_binary_copy_writes_the_exact_decimals_of_the_model():
    spec = reference_specs({"BYND": PRICES["BYND"]})
    seed_bars(("BYND",), days=5, minute_days=1)
    p = backfill.plan(now=NOW, days=5, minute_days=1)
    minutes, firsts = backfill._minutes_of(p.sessions)
    bars = backfill.simulate(spec["BYND"], minutes, firsts, seed=7)
    expected = backfill._models(MinuteBar, bars)[-390:]
    fields = ("start", "open", "high", "low", "close", "volume", "trade_count", "vwap", "notional", "open_ts", "close_ts")
    stored = list(MinuteBar.objects.filter(symbol="BYND").order_by("start").values_list(*fields))
    assert stored == [tuple(getattr(b, f) for f in fields) for b in expected]


def test_deterministic_and_idempotent():
    first = seed_bars(("AAPL",), days=20, minute_days=2)
    rows = list(MinuteBar.objects.order_by("start").values_list("start", "close", "volume"))
    second = seed_bars(("AAPL",), days=20, minute_days=2)
    assert first["symbols"] == 1 and second == {**first, "symbols": 0, "skipped": 1, "minute_bars": 0, "daily_bars": 0}
    assert list(MinuteBar.objects.order_by("start").values_list("start", "close", "volume")) == rows
    # The same seed gives the same walk; another seed another one
    MinuteBar.objects.all().delete()
    DailyBar.objects.all().delete()
    seed_bars(("AAPL",), days=20, minute_days=2)
    assert list(MinuteBar.objects.order_by("start").values_list("start", "close", "volume")) == rows
    MinuteBar.objects.all().delete()
    DailyBar.objects.all().delete()
    seed_bars(("AAPL",), days=20, minute_days=2, seed=8)
    assert list(MinuteBar.objects.order_by("start").values_list("start", "close", "volume")) != rows


def test_seed_demo_options(capsys):
    call_command("seed_demo", "--no-backfill")
    assert not DailyBar.objects.exists()
    call_command("seed_demo", "--backfill-days", "7", "--backfill-minute-days", "1")
    out = capsys.readouterr().out
    assert "68 symbols written" in out
    assert DailyBar.objects.values("symbol").distinct().count() == 68
    assert MinuteBar.objects.filter(symbol="SPY").count() in (210, 390)  # one session (early close or not)
    call_command("seed_demo", "--backfill-days", "7", "--backfill-minute-days", "1")
    assert "0 symbols written" in capsys.readouterr().out


def test_the_sqlite_insert_path_writes_the_same_rows_as_copy():
    """Embedded mode writes with executemany instead of binary COPY: same rows."""
    from exchange_sim.config import SymbolSpec
    from tests.factories import make_asset

    spec = reference_specs({"AAPL": PRICES["AAPL"]})["AAPL"]
    twin = SymbolSpec(symbol="TWIN", reference_price=spec.reference_price)
    make_asset("AAPL", price=PRICES["AAPL"])
    backfill.bars_backfill(specs={"AAPL": spec}, now=NOW, seed=3, days=8, minute_days=2, copy=True)
    # TWIN draws its own shocks (seeded by symbol): compare it to AAPL simulated under its name
    backfill.bars_backfill(specs={"TWIN": twin}, now=NOW, seed=3, days=8, minute_days=2, copy=False)
    fields = ("start", "open", "high", "low", "close", "volume", "trade_count", "vwap", "notional", "open_ts", "close_ts")
    p = backfill.plan(now=NOW, days=8, minute_days=2)
    minutes, firsts = backfill._minutes_of(p.sessions)
    twin_bars = backfill.simulate(twin, minutes, firsts, seed=3)
    expected = [tuple(getattr(b, f) for f in fields) for b in backfill._models(MinuteBar, twin_bars)[-780:]]
    assert list(MinuteBar.objects.filter(symbol="TWIN").order_by("start").values_list(*fields)) == expected
    copied = backfill._models(DailyBar, backfill.daily_of(backfill.simulate(spec, minutes, firsts, seed=3), firsts, p.sessions))
    assert list(DailyBar.objects.filter(symbol="AAPL").order_by("start").values_list(*fields)) == [
        tuple(getattr(b, f) for f in fields) for b in copied]
    assert DailyBar.objects.filter(symbol="TWIN").count() == len(p.sessions)
