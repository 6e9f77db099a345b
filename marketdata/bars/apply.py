"""Bars maintained from the feed's trades, one batch at a time.

`bars_apply_trades(trades)` is what the feed handler calls once per batch:

1. The batch is aggregated in memory per (symbol, minute) and per (symbol, session day).
2. On PostgreSQL it costs two statements: one upsert of the venues' cursors (it takes their row
   locks and returns the last applied seq per venue, see "replays" below), then one statement
   whose three data-modifying CTEs upsert the 1-minute bars, the daily bars and the cursors:
   `INSERT ... SELECT FROM unnest(arrays) ON CONFLICT (symbol, start) DO UPDATE SET high =
   GREATEST(...), low = LEAST(...), open/close by trade timestamp, volume/trade_count/notional
   added, vwap = notional / volume`. Rows go in (symbol, start) order, so two concurrent batches
   lock bars in the same order (no deadlock). Elsewhere (SQLite, embedded mode) the same merge is
   done in Python inside the caller's write transaction.
3. It returns the 1-minute bars that closed, as Alpaca stream bar dicts (the "b" list of
   marketdata.groups' message): {"T": "b", "S", "o", "h", "l", "c", "v", "t", "n", "vw"}, prices
   and sizes as decimal strings. A bar closes when its minute has ended by `now` (default: the
   wall clock) or when a later minute of the same symbol appears. A trade that lands in a minute
   already reported closed (a late print) returns the corrected bar with "T": "u" (Alpaca's
   updatedBars). `bars_close_due(now)` closes bars on a timer when no trade arrives.

Replays: each venue's highest applied `seq` is kept in marketdata_bar_cursor, updated in the same
transaction as the bars. With `dedupe=True` (default) trades whose seq is at or below their venue's
cursor are skipped, so re-sending a batch (a crash between the tick store's commit and the
handler's own checkpoint, a reconnect that replays) changes nothing. This requires each venue's
trades to reach this function in seq order: a gap must be filled before later trades are passed
(a gap-filled trade passed after a later one is skipped as a replay). A caller that already
de-duplicates (e.g. passes only trades its tick-store insert reported new) can pass dedupe=False.

Runs in the caller's transaction if there is one (transaction.atomic, not durable), so ticks and
bars can commit together. Which minutes were reported closed is per process (BarTracker): after a
restart a bar may be reported closed a second time.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.utils import timezone as dj_timezone

from marketdata.ticks import TradeTick

from ..models_bars import BarCursor, DailyBar, MinuteBar
from .sessions import daily_start, session_date

UTC = timezone.utc
MINUTE = timedelta(minutes=1)
VWAP_Q = Decimal("0.000001")  # PriceField's 6 places; PostgreSQL rounds half away from zero too


def rfc3339(ts: datetime) -> str:
    ts = ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ") if not ts.microsecond else ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dec(value: Decimal) -> str:
    if not value:
        return "0"
    return format(value.normalize(), "f")


@dataclass(slots=True)
class _Agg:
    open: Decimal
    open_ts: datetime
    high: Decimal
    low: Decimal
    close: Decimal
    close_ts: datetime
    volume: Decimal
    count: int
    notional: Decimal

    @classmethod
    def of(cls, t: TradeTick) -> _Agg:
        return cls(t.price, t.ts, t.price, t.price, t.price, t.ts, t.size, 1, t.price * t.size)

    def add(self, t: TradeTick) -> None:
        if t.ts < self.open_ts:
            self.open, self.open_ts = t.price, t.ts
        if t.ts >= self.close_ts:
            self.close, self.close_ts = t.price, t.ts
        if t.price > self.high:
            self.high = t.price
        if t.price < self.low:
            self.low = t.price
        self.volume += t.size
        self.count += 1
        self.notional += t.price * t.size

    def merge_into(self, old: _Agg) -> _Agg:
        """old (stored) + self (this batch), by the same rules as the SQL upsert."""
        return _Agg(
            self.open if self.open_ts < old.open_ts else old.open, min(old.open_ts, self.open_ts),
            max(old.high, self.high), min(old.low, self.low),
            self.close if self.close_ts >= old.close_ts else old.close, max(old.close_ts, self.close_ts),
            old.volume + self.volume, old.count + self.count, old.notional + self.notional)


def _aggregate(trades) -> tuple[dict, dict]:
    minutes: dict[tuple[str, datetime], _Agg] = {}
    days: dict[tuple[str, datetime], _Agg] = {}
    day_of_minute: dict[datetime, datetime] = {}  # a batch spans few minutes: one calendar lookup each
    for t in trades:
        minute = t.ts.astimezone(UTC).replace(second=0, microsecond=0)
        day = day_of_minute.get(minute)
        if day is None:
            day = day_of_minute[minute] = daily_start(session_date(minute))
        for bucket, key in ((minutes, (t.symbol, minute)), (days, (t.symbol, day))):
            agg = bucket.get(key)
            if agg is None:
                bucket[key] = _Agg.of(t)
            else:
                agg.add(t)
    return minutes, days


# --- PostgreSQL ------------------------------------------------------------------------------

_CLAIM_SQL = """
INSERT INTO marketdata_bar_cursor AS c (venue, seq) SELECT v, -1 FROM unnest(%s::varchar[]) AS v
ON CONFLICT (venue) DO UPDATE SET seq = c.seq
RETURNING venue, seq"""

_COLS = "symbol, start, open, high, low, close, volume, trade_count, vwap, notional, open_ts, close_ts"
_UPSERT = """
INSERT INTO {table} AS b ({cols})
SELECT s, st, o, h, l, c, v, n, round(nt / v, 6), nt, ot, ct
FROM unnest(%s::varchar[], %s::timestamptz[], %s::numeric[], %s::numeric[], %s::numeric[], %s::numeric[],
            %s::numeric[], %s::bigint[], %s::numeric[], %s::timestamptz[], %s::timestamptz[])
     AS u(s, st, o, h, l, c, v, n, nt, ot, ct)
ON CONFLICT (symbol, start) DO UPDATE SET
  open = CASE WHEN EXCLUDED.open_ts < b.open_ts THEN EXCLUDED.open ELSE b.open END,
  open_ts = LEAST(b.open_ts, EXCLUDED.open_ts),
  high = GREATEST(b.high, EXCLUDED.high),
  low = LEAST(b.low, EXCLUDED.low),
  close = CASE WHEN EXCLUDED.close_ts >= b.close_ts THEN EXCLUDED.close ELSE b.close END,
  close_ts = GREATEST(b.close_ts, EXCLUDED.close_ts),
  volume = b.volume + EXCLUDED.volume,
  trade_count = b.trade_count + EXCLUDED.trade_count,
  notional = b.notional + EXCLUDED.notional,
  vwap = round((b.notional + EXCLUDED.notional) / (b.volume + EXCLUDED.volume), 6)"""

_APPLY_SQL = f"""
WITH m AS ({_UPSERT.format(table="marketdata_bar_1min", cols=_COLS)}
  RETURNING symbol, start, open, high, low, close, volume, trade_count, vwap),
d AS ({_UPSERT.format(table="marketdata_bar_1day", cols=_COLS)}
  RETURNING 1),
c AS (INSERT INTO marketdata_bar_cursor AS c (venue, seq) SELECT * FROM unnest(%s::varchar[], %s::bigint[])
      ON CONFLICT (venue) DO UPDATE SET seq = GREATEST(c.seq, EXCLUDED.seq) RETURNING 1)
SELECT symbol, start, open, high, low, close, volume, trade_count, vwap FROM m"""


def _arrays(bucket: dict) -> list[list]:
    keys = sorted(bucket)
    aggs = [bucket[k] for k in keys]
    return [[k[0] for k in keys], [k[1] for k in keys], [a.open for a in aggs], [a.high for a in aggs],
            [a.low for a in aggs], [a.close for a in aggs], [a.volume for a in aggs], [a.count for a in aggs],
            [a.notional for a in aggs], [a.open_ts for a in aggs], [a.close_ts for a in aggs]]


def _claim_pg(venues: list[str]) -> dict[str, int]:
    with connection.cursor() as cur:
        cur.execute(_CLAIM_SQL, [venues])
        return dict(cur.fetchall())


def _write_pg(minutes: dict, days: dict, cursors: dict[str, int]) -> list[tuple]:
    venues = sorted(cursors)
    with connection.cursor() as cur:
        cur.execute(_APPLY_SQL, [*_arrays(minutes), *_arrays(days), venues, [cursors[v] for v in venues]])
        return cur.fetchall()


# --- any other database (SQLite in embedded mode): the same merge in Python --------------------

_FIELDS = ["open", "high", "low", "close", "volume", "trade_count", "vwap", "notional", "open_ts", "close_ts"]


def _claim_generic(venues: list[str]) -> dict[str, int]:
    found = dict(BarCursor.objects.filter(venue__in=venues).values_list("venue", "seq"))
    return {v: found.get(v, -1) for v in venues}


def _merge_generic(model, bucket: dict) -> list:
    symbols = {k[0] for k in bucket}
    starts = {k[1] for k in bucket}
    stored = {(b.symbol, b.start): b for b in model.objects.filter(symbol__in=symbols, start__in=starts)}
    rows = []
    for key in sorted(bucket):
        agg = bucket[key]
        old = stored.get(key)
        if old is not None:
            agg = agg.merge_into(_Agg(old.open, old.open_ts, old.high, old.low, old.close, old.close_ts,
                                      old.volume, old.trade_count, old.notional))
        rows.append(model(symbol=key[0], start=key[1], open=agg.open, high=agg.high, low=agg.low, close=agg.close,
                          volume=agg.volume, trade_count=agg.count,
                          vwap=(agg.notional / agg.volume).quantize(VWAP_Q, rounding=ROUND_HALF_UP),
                          notional=agg.notional, open_ts=agg.open_ts, close_ts=agg.close_ts))
    model.objects.bulk_create(rows, update_conflicts=True, unique_fields=["symbol", "start"], update_fields=_FIELDS)
    return rows


def _write_generic(minutes: dict, days: dict, cursors: dict[str, int]) -> list[tuple]:
    rows = _merge_generic(MinuteBar, minutes)
    _merge_generic(DailyBar, days)
    BarCursor.objects.bulk_create([BarCursor(venue=v, seq=s) for v, s in sorted(cursors.items())],
                                  update_conflicts=True, unique_fields=["venue"], update_fields=["seq"])
    return [(b.symbol, b.start, b.open, b.high, b.low, b.close, b.volume, b.trade_count, b.vwap) for b in rows]


# --- closing ---------------------------------------------------------------------------------


def bar_message(row: tuple, kind: str = "b") -> dict:
    symbol, start, o, h, lo, c, v, n, vw = row
    return {"T": kind, "S": symbol, "o": dec(o), "h": dec(h), "l": dec(lo), "c": dec(c), "v": dec(v),
            "t": rfc3339(start), "n": int(n), "vw": dec(vw)}


class BarTracker:
    """Per symbol, the newest 1-minute bar seen and whether it was reported closed."""

    def __init__(self) -> None:
        self._open: dict[str, tuple[datetime, tuple]] = {}   # symbol -> (start, row), not yet reported
        self._closed: dict[str, datetime] = {}               # symbol -> start of the last bar reported closed

    def observe(self, rows: list[tuple]) -> list[dict]:
        out = []
        for row in sorted(rows, key=lambda r: (r[0], r[1])):
            symbol, start = row[0], row[1]
            closed = self._closed.get(symbol)
            if closed is not None and start <= closed:
                out.append(bar_message(row, "u"))  # a late print into a bar already reported
                continue
            current = self._open.get(symbol)
            if current is not None and current[0] < start:
                out.append(bar_message(current[1]))  # a newer minute started: the older one closed
                self._closed[symbol] = current[0]
            if current is None or current[0] <= start:
                self._open[symbol] = (start, row)
        return out

    def close_due(self, now: datetime) -> list[dict]:
        out = []
        for symbol in sorted(self._open):
            start, row = self._open[symbol]
            if start + MINUTE <= now:
                out.append(bar_message(row))
                self._closed[symbol] = start
                del self._open[symbol]
        return out

    def clear(self) -> None:
        self._open.clear()
        self._closed.clear()


_tracker = BarTracker()


def bars_close_due(now: datetime | None = None, *, tracker: BarTracker | None = None) -> list[dict]:
    """The bars whose minute has ended by `now` and were not reported yet (for a timer)."""
    return (tracker or _tracker).close_due(now or dj_timezone.now())


def bars_apply_trades(trades: list[TradeTick], *, now: datetime | None = None, dedupe: bool = True,
                      tracker: BarTracker | None = None) -> list[dict]:
    """Fold a batch of trades into the 1-minute and daily bars; return the bars that closed (and
    corrections of bars already closed). See the module docstring for replays."""
    tracker = tracker or _tracker
    trades = [t for t in trades if t.size > 0]
    rows: list[tuple] = []
    if trades:
        pg = connection.vendor == "postgresql"
        with transaction.atomic():
            venues = sorted({t.venue for t in trades})
            applied = (_claim_pg if pg else _claim_generic)(venues)
            if dedupe:
                trades = [t for t in trades if t.seq > applied[t.venue]]
            if trades:
                cursors = dict(applied)
                for t in trades:
                    if t.seq > cursors[t.venue]:
                        cursors[t.venue] = t.seq
                minutes, days = _aggregate(trades)
                rows = (_write_pg if pg else _write_generic)(minutes, days, cursors)
    out = tracker.observe(rows)
    out.extend(tracker.close_due(now or dj_timezone.now()))
    return out
