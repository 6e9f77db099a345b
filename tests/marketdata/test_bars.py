"""Bars from trades: bars_apply_trades, the feed's once-per-batch call (marketdata/bars/apply.py)."""
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.db import connection

from marketdata.bars import BarTracker, bars_apply_trades, daily_start, session_date
from marketdata.bars import apply as bars_apply
from marketdata.models import BarCursor, DailyBar, MinuteBar
from marketdata.ticks import TradeTick

pytestmark = pytest.mark.django_db
D = Decimal
UTC = timezone.utc
T0 = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)  # a Tuesday, 10:30 New York
_seq = iter(range(1, 10**9))


def trade(price, size="100", *, at=0.0, symbol="AAPL", venue="SIMA", seq=None) -> TradeTick:
    return TradeTick(symbol=symbol, venue=venue, price=D(price), size=D(size), ts=T0 + timedelta(seconds=at),
                     seq=seq if seq is not None else next(_seq))


def minute_bar(symbol="AAPL", start=T0) -> MinuteBar:
    return MinuteBar.objects.get(symbol=symbol, start=start)


def test_one_batch_makes_the_minute_and_daily_bar():
    # Given four trades in one minute, out of timestamp order within the batch
    trades = [trade("100.10", at=5), trade("100.50", "200", at=20), trade("99.90", "50", at=1), trade("100.20", at=59)]
    # When the feed applies the batch
    bars_apply_trades(trades, tracker=BarTracker())
    # Then the bar's open and close are those of the earliest and latest trade by exchange time
    bar = minute_bar()
    assert (bar.open, bar.high, bar.low, bar.close) == (D("99.90"), D("100.50"), D("99.90"), D("100.20"))
    assert bar.volume == 450 and bar.trade_count == 4
    notional = D("100.10") * 100 + D("100.50") * 200 + D("99.90") * 50 + D("100.20") * 100
    assert bar.notional == notional and bar.vwap == (notional / 450).quantize(D("0.000001"))
    # And the session's daily bar holds the same, stamped at New York midnight (04:00Z in March DST)
    day = DailyBar.objects.get()
    assert day.start == datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
    assert (day.open, day.high, day.low, day.close, day.volume, day.trade_count) == (
        D("99.90"), D("100.50"), D("99.90"), D("100.20"), 450, 4)


def test_later_batches_merge_into_the_bar_by_exchange_time():
    bars_apply_trades([trade("100", at=10), trade("101", at=30)], tracker=BarTracker())
    # A late print (earlier exchange time) in a later batch becomes the open, not the close
    bars_apply_trades([trade("98", at=2), trade("102", "10", at=40)], tracker=BarTracker())
    bars_apply_trades([trade("99.5", "10", at=35)], tracker=BarTracker())
    bar = minute_bar()
    assert (bar.open, bar.high, bar.low, bar.close) == (D("98"), D("102"), D("98"), D("102"))
    assert bar.volume == 320 and bar.trade_count == 5
    assert bar.open_ts == T0 + timedelta(seconds=2) and bar.close_ts == T0 + timedelta(seconds=40)


def test_a_replayed_batch_changes_nothing():
    # Given a batch from two venues already applied
    batch = [trade("100", venue="SIMA", seq=1), trade("101", venue="SIMB", seq=7, at=3),
             trade("102", venue="SIMA", seq=2, at=6)]
    bars_apply_trades(batch, tracker=BarTracker())
    # When the feed sends it again (a reconnect replays), and then a new trade
    bars_apply_trades(batch, tracker=BarTracker())
    bars_apply_trades([trade("103", venue="SIMA", seq=2, at=7), trade("104", venue="SIMB", seq=8, at=8)],
                      tracker=BarTracker())
    # Then only trades past each venue's cursor counted
    bar = minute_bar()
    assert bar.volume == 400 and bar.trade_count == 4 and bar.close == D("104")
    assert dict(BarCursor.objects.values_list("venue", "seq")) == {"SIMA": 2, "SIMB": 8}
    assert DailyBar.objects.get().volume == 400


def test_dedupe_off_counts_every_trade_passed():
    batch = [trade("100", seq=1)]
    bars_apply_trades(batch, tracker=BarTracker(), dedupe=False)
    bars_apply_trades(batch, tracker=BarTracker(), dedupe=False)
    assert minute_bar().volume == 200


def test_bars_close_when_their_minute_ends_and_late_prints_update_them():
    tracker = BarTracker()
    # A trade at 14:30:10 and the clock at 14:30:30: nothing closed yet
    assert bars_apply_trades([trade("100", at=10)], now=T0 + timedelta(seconds=30), tracker=tracker) == []
    # A trade in the next minute closes the 14:30 bar
    out = bars_apply_trades([trade("101", at=65)], now=T0 + timedelta(seconds=66), tracker=tracker)
    assert out == [{"T": "b", "S": "AAPL", "o": "100", "h": "100", "l": "100", "c": "100", "v": "100",
                    "t": "2026-03-10T14:30:00Z", "n": 1, "vw": "100"}]
    # A late print for 14:30 corrects it as an updated bar ("u"); MSFT's first bar is not yet due
    out = bars_apply_trades([trade("99", "50", at=50), trade("400", symbol="MSFT", at=70)],
                            now=T0 + timedelta(seconds=80), tracker=tracker)
    assert [(m["T"], m["S"], m["t"], m["l"], m["v"]) for m in out] == [("u", "AAPL", "2026-03-10T14:30:00Z", "99", "150")]
    # When the clock passes 14:32 both open bars close, in symbol order, without a new trade
    out = bars_apply_trades([], now=T0 + timedelta(minutes=2), tracker=tracker)
    assert [(m["T"], m["S"], m["t"], m["c"]) for m in out] == [("b", "AAPL", "2026-03-10T14:31:00Z", "101"),
                                                                 ("b", "MSFT", "2026-03-10T14:31:00Z", "400")]
    assert bars_apply_trades([], now=T0 + timedelta(minutes=5), tracker=tracker) == []


def test_one_statement_writes_the_batch(django_assert_num_queries):
    trades = [trade(str(100 + i), symbol=s, at=i * 7) for i in range(20) for s in ("AAPL", "MSFT", "SPY")]
    # cursor claim + the bars/cursor upsert (the savepoint pair of the nested atomic block aside)
    with django_assert_num_queries(4) as ctx:
        bars_apply_trades(trades, tracker=BarTracker())
    statements = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 2
    assert MinuteBar.objects.count() == 3 * 3  # 140 s of trades: minutes :30, :31, :32


@pytest.mark.parametrize(("ny_time", "session"), [
    ("2026-03-10T04:00:00-04:00", date(2026, 3, 10)),   # pre-market belongs to the day
    ("2026-03-10T19:59:00-04:00", date(2026, 3, 10)),   # after-hours too
    ("2026-03-14T12:00:00-04:00", date(2026, 3, 16)),   # Saturday (always-open demo) rolls into Monday
    ("2026-04-03T12:00:00-04:00", date(2026, 4, 6)),    # Good Friday 2026: NYSE closed
    ("2026-11-27T12:30:00-05:00", date(2026, 11, 27)),  # day after Thanksgiving, an early close
])
def test_session_date_follows_the_nyse_calendar(ny_time, session):
    assert session_date(datetime.fromisoformat(ny_time)) == session


def test_daily_bar_of_a_weekend_trade_is_mondays():
    saturday = datetime(2026, 3, 14, 16, 0, tzinfo=UTC)
    bars_apply_trades([TradeTick("AAPL", "SIMA", D("100"), D("1"), saturday, 1)], tracker=BarTracker())
    assert DailyBar.objects.get().start == daily_start(date(2026, 3, 16)) == datetime(2026, 3, 16, 4, tzinfo=UTC)


def test_the_python_merge_equals_the_sql_upsert():
    """SQLite (embedded mode) merges in Python: the same batches give the same bars."""
    batches = [[trade("100.01", "3", at=1), trade("100.07", "5", at=9)],
               [trade("99.99", "7", at=0.5), trade("100.03", "11", at=58), trade("100.11", "2", at=61)],
               [trade("100.02", "13", at=59)]]
    for batch in batches:
        bars_apply_trades(batch, tracker=BarTracker(), dedupe=False)
    for batch in batches:
        renamed = [TradeTick("ZZZ", t.venue, t.price, t.size, t.ts, t.seq) for t in batch]
        minutes, days = bars_apply._aggregate(renamed)
        bars_apply._write_generic(minutes, days, {"SIMA": 0})
    fields = ("start", "open", "high", "low", "close", "volume", "trade_count", "vwap", "notional", "open_ts", "close_ts")
    for model in (MinuteBar, DailyBar):
        sql = list(model.objects.filter(symbol="AAPL").order_by("start").values_list(*fields))
        python = list(model.objects.filter(symbol="ZZZ").order_by("start").values_list(*fields))
        assert sql == python and len(sql) == (2 if model is MinuteBar else 1)
    assert connection.vendor == "postgresql"


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_neither_deadlock_nor_lose_volume():
    """Four feed threads (one venue each) writing the same symbols' bars at once, each batch listing
    the symbols in its own order: rows are locked in (symbol, start) order, so no 40P01, and every
    share is counted once."""
    import random

    from tests.concurrency import run_in_threads

    symbols = ["AAPL", "MSFT", "SPY", "QQQ", "TSLA"]

    def feed(venue: str, batches: int) -> int:
        rng = random.Random(venue)
        for b in range(batches):
            order = symbols[:]
            rng.shuffle(order)
            trades = [TradeTick(s, venue, D("100") + b, D("1"), T0 + timedelta(seconds=b * 7 + i), b * 10 + i)
                      for i, s in enumerate(order)]
            bars_apply_trades(trades, tracker=BarTracker())
        return batches * len(symbols)

    results = run_in_threads(feed, [(f"V{i}", 25) for i in range(4)], workers=4)
    assert [exc for _, exc in results] == [None] * 4
    assert sum(MinuteBar.objects.values_list("volume", flat=True)) == 4 * 25 * len(symbols)
    assert sum(DailyBar.objects.values_list("trade_count", flat=True)) == 4 * 25 * len(symbols)
    assert dict(BarCursor.objects.values_list("venue", "seq")) == {f"V{i}": 24 * 10 + 4 for i in range(4)}
