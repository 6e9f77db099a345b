"""Bars read back for the REST API, in Alpaca's market-data v2 shape.

1Min and 1Day come straight from their tables; N-minute and N-hour bars (5Min, 15Min, 1Hour, ...)
are aggregated from the 1-minute table at query time: on PostgreSQL in SQL with date_bin (first
open, max high, min low, last close, summed volume, trade count and notional, vwap = notional /
volume), elsewhere (SQLite, embedded mode) the same in Python. Buckets are aligned on whole
minutes/hours of UTC (as Alpaca's hour bars are: 13:00Z, 14:00Z ...).

Rows are returned as tuples of JSON-ready text (t, o, h, l, c, v, n, vw) so that a page of 10,000
bars is formatted without building a Decimal or a datetime per value: PostgreSQL writes the numbers
(trim_scale(x)::text, exact) and the timestamps itself (Django's timestamptz loader alone costs
more than the query on a 10,000-row page).

Paging: results are ordered by (symbol, start) (start descending within a symbol for sort=desc);
`limit` counts bars over all symbols, as Alpaca's does; the page token is the opaque base64 of the
last returned (symbol, start), and the next page starts strictly after it.
"""
from __future__ import annotations

import base64
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection

from core.errors import InvalidInput

from ..models_bars import DailyBar, MinuteBar
from .apply import VWAP_Q, dec, rfc3339

UTC = timezone.utc
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # date_bin origin: any whole UTC midnight aligns minutes and hours
MAX_LIMIT = 10_000


@dataclass(frozen=True)
class Timeframe:
    text: str
    minutes: int  # 0 for daily

    @property
    def daily(self) -> bool:
        return self.minutes == 0

    @property
    def raw(self) -> bool:
        return self.minutes in (0, 1)

    @property
    def step(self) -> timedelta:
        return timedelta(minutes=self.minutes)


TIMEFRAMES = ("1Min", "5Min", "15Min", "30Min", "1Hour", "4Hour", "1Day")  # documented; any N<60 Min, N<24 Hour works
_TF = re.compile(r"^([1-9][0-9]?)(Min|T|Hour|H|Day|D)$")


def parse_timeframe(text: str) -> Timeframe:
    m = _TF.match(text or "")
    if not m:
        raise InvalidInput("invalid_timeframe", f"timeframe {text!r}: expected e.g. 1Min, 5Min, 15Min, 1Hour, 1Day")
    amount, unit = int(m.group(1)), m.group(2)
    if unit in ("Min", "T") and amount <= 59:
        return Timeframe(f"{amount}Min", amount)
    if unit in ("Hour", "H") and amount <= 23:
        return Timeframe(f"{amount}Hour", amount * 60)
    if unit in ("Day", "D") and amount == 1:
        return Timeframe("1Day", 0)
    raise InvalidInput("invalid_timeframe", f"timeframe {text!r}: minutes 1-59, hours 1-23, days 1")


def encode_token(symbol: str, start: datetime) -> str:
    return base64.urlsafe_b64encode(f"{symbol}|{start.astimezone(UTC).isoformat()}".encode()).decode()


def decode_token(token: str) -> tuple[str, datetime]:
    try:
        symbol, iso = base64.urlsafe_b64decode(token.encode()).decode().split("|", 1)
        start = datetime.fromisoformat(iso)
        if start.tzinfo is None:
            raise ValueError
        return symbol, start
    except Exception:  # noqa: BLE001 - any malformed token is the client's error
        raise InvalidInput("invalid_page_token", "page_token is not one this server issued") from None


def _align_up(t: datetime, step: timedelta) -> datetime:
    n = -((EPOCH - t) // step)  # ceil((t - EPOCH) / step)
    return EPOCH + n * step


def _floor(t: datetime, step: timedelta) -> datetime:
    return EPOCH + ((t - EPOCH) // step) * step


# --- PostgreSQL --------------------------------------------------------------------------------

_T = """to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""
_COLUMNS = ("{t}, trim_scale({o})::text, trim_scale({h})::text, trim_scale({l})::text, trim_scale({c})::text, "
            "trim_scale({v})::text, {n}, trim_scale({vw})::text")
# The same values as one JSON object per row, written by PostgreSQL (the API's page is these joined).
_JSON = ("""'{{"t":"' || {t} || '","o":' || trim_scale({o})::text || ',"h":' || trim_scale({h})::text || """
         """',"l":' || trim_scale({l})::text || ',"c":' || trim_scale({c})::text || ',"v":' || trim_scale({v})::text"""
         """ || ',"n":' || {n} || ',"vw":' || trim_scale({vw})::text || '}}'""")
_RAW_FIELDS = dict(o="open", h="high", l="low", c="close", v="volume", n="trade_count", vw="vwap")
_AGG_FIELDS = dict(o="o", h="h", l="l", c="c", v="v", n="n", vw="round(nt / v, 6)")
_RAW_SQL = """
SELECT symbol, {columns}
FROM {table}
WHERE symbol = ANY(%(symbols)s) AND start >= %(start)s AND start <= %(end)s {after}
ORDER BY symbol, start {direction}
LIMIT %(limit)s"""

_AGG_SQL = """
SELECT symbol, {columns}
FROM (
  SELECT symbol, date_bin(%(step)s, start, %(epoch)s) AS bucket,
         (array_agg(open ORDER BY start))[1] AS o, max(high) AS h, min(low) AS l,
         (array_agg(close ORDER BY start DESC))[1] AS c, sum(volume) AS v, sum(trade_count) AS n,
         sum(notional) AS nt
  FROM marketdata_bar_1min
  WHERE symbol = ANY(%(symbols)s) AND start >= %(start)s AND start <= %(end)s {after}
  GROUP BY symbol, bucket
) q
ORDER BY symbol, bucket {direction}
LIMIT %(limit)s"""


def _after_clause(desc: bool) -> str:
    op = "<" if desc else ">"
    return f"AND (symbol > %(tok_symbol)s OR (symbol = %(tok_symbol)s AND start {op} %(tok_start)s))"


def page_sql(tf: Timeframe, *, desc: bool = False, after: bool = False, as_json: bool = False) -> str:
    """The SELECT of one page (parameters: symbols, start, end, limit[, tok_symbol, tok_start][, step, epoch])."""
    if tf.raw:
        t, fields, template = _T.format(col="start"), _RAW_FIELDS, _RAW_SQL
    else:
        t, fields, template = _T.format(col="bucket"), _AGG_FIELDS, _AGG_SQL
    columns = f"{t}, " + _JSON.format(t=t, **fields) if as_json else _COLUMNS.format(t=t, **fields)
    table = ("marketdata_bar_1day" if tf.daily else "marketdata_bar_1min") if tf.raw else ""
    return template.format(columns=columns, table=table, after=_after_clause(desc) if after else "",
                           direction="DESC" if desc else "")


def page_params(symbols, tf: Timeframe, start, end, limit, desc, token) -> dict:
    params = {"symbols": symbols, "start": start, "end": end, "limit": limit}
    if token:
        params["tok_symbol"], tok_start = token
        # A bucket's rows start at the bucket; "after the bucket" ascending is from the next bucket.
        params["tok_start"] = tok_start if (tf.raw or desc) else tok_start + tf.step - timedelta(microseconds=1)
    if not tf.raw:
        params.update(step=tf.step, epoch=EPOCH)
    return params


def _query_pg(symbols, tf: Timeframe, start, end, limit, desc, token, as_json=False) -> list[tuple]:
    sql = page_sql(tf, desc=desc, after=bool(token), as_json=as_json)
    with connection.cursor() as cur:
        cur.execute(sql, page_params(symbols, tf, start, end, limit, desc, token))
        return cur.fetchall()


# --- any other database: the ORM and Python --------------------------------------------------


def _row_text(symbol, start, o, h, lo, c, v, n, vw) -> tuple:
    return (symbol, rfc3339(start), dec(o), dec(h), dec(lo), dec(c), dec(v), n, dec(vw))


def _query_generic(symbols, tf: Timeframe, start, end, limit, desc, token, as_json=False) -> list[tuple]:
    model = DailyBar if tf.daily else MinuteBar
    qs = model.objects.filter(symbol__in=symbols, start__gte=start, start__lte=end).order_by("symbol", "start")
    if tf.raw:
        out = list(qs.values_list("symbol", "start", "open", "high", "low", "close", "volume", "trade_count", "vwap"))
    else:
        rows = qs.values_list("symbol", "start", "open", "high", "low", "close", "volume", "trade_count", "notional")
        buckets: dict[tuple, list] = {}
        for s, st, o, h, lo, c, v, n, nt in rows:
            key = (s, _floor(st, tf.step))
            agg = buckets.get(key)
            if agg is None:
                buckets[key] = [o, h, lo, c, v, n, nt]
            else:
                agg[1], agg[2], agg[3] = max(agg[1], h), min(agg[2], lo), c
                agg[4] += v
                agg[5] += n
                agg[6] += nt
        out = [(s, b, o, h, lo, c, v, n, (nt / v).quantize(VWAP_Q, rounding=ROUND_HALF_UP))
               for (s, b), (o, h, lo, c, v, n, nt) in buckets.items()]
    if desc:
        out.sort(key=lambda r: (r[0], -r[1].timestamp()))
    if token:
        ts, tt = token
        out = [r for r in out if r[0] > ts or (r[0] == ts and (r[1] < tt if desc else r[1] > tt))]
    rows = [_row_text(*r) for r in out[:limit]]
    return [(r[0], r[1], bar_json(r[1:])) for r in rows] if as_json else rows


# --- the page ----------------------------------------------------------------------------------


def bars_page(*, symbols: list[str], timeframe: Timeframe, start: datetime, end: datetime, limit: int,
              desc: bool = False, page_token: str | None = None,
              as_json: bool = False) -> tuple[dict[str, list], str | None]:
    """{symbol: [(t, o, h, l, c, v, n, vw) as JSON-ready text]}, next_page_token or None; with
    as_json, {symbol: [the bar's JSON object text]}."""
    token = decode_token(page_token) if page_token else None
    if not timeframe.raw:
        start = _align_up(start, timeframe.step)  # only whole buckets from `start` on
    symbols = sorted(set(symbols))
    query = _query_pg if connection.vendor == "postgresql" else _query_generic
    rows = query(symbols, timeframe, start, end, limit + 1, desc, token, as_json)
    next_token = None
    if len(rows) > limit:
        rows = rows[:limit]
        # Bars start on whole seconds, so the row's own RFC 3339 text is its exact start.
        next_token = encode_token(rows[-1][0], datetime.fromisoformat(rows[-1][1].replace("Z", "+00:00")))
    bars: dict[str, list[tuple]] = defaultdict(list)
    for row in rows:
        bars[row[0]].append(row[2] if as_json else row[1:])
    return dict(bars), next_token


def bar_json(row: tuple) -> str:
    t, o, h, lo, c, v, n, vw = row
    return f'{{"t":"{t}","o":{o},"h":{h},"l":{lo},"c":{c},"v":{v},"n":{n},"vw":{vw}}}'


# --- latest bars (snapshots) ------------------------------------------------------------------

_LATEST_SQL = """
SELECT b.symbol, {t}, trim_scale(b.open)::text, trim_scale(b.high)::text, trim_scale(b.low)::text,
       trim_scale(b.close)::text, trim_scale(b.volume)::text, b.trade_count, trim_scale(b.vwap)::text
FROM unnest(%s::varchar[]) AS s(symbol)
CROSS JOIN LATERAL (SELECT * FROM {table} WHERE symbol = s.symbol ORDER BY start DESC LIMIT %s) AS b
ORDER BY b.symbol, b.start DESC"""


def _latest(model, symbols: list[str], n: int) -> dict[str, list[tuple]]:
    """Per symbol its newest n bars, newest first, as (symbol, t, o, h, l, c, v, n, vw)."""
    out: dict[str, list[tuple]] = defaultdict(list)
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(_LATEST_SQL.format(t=_T.format(col="b.start"), table=model._meta.db_table),
                        [sorted(set(symbols)), n])
            for row in cur.fetchall():
                out[row[0]].append(row)
        return dict(out)
    for symbol in sorted(set(symbols)):
        for b in model.objects.filter(symbol=symbol).order_by("-start")[:n]:
            out[symbol].append(_row_text(b.symbol, b.start, b.open, b.high, b.low, b.close, b.volume,
                                         b.trade_count, b.vwap))
    return dict(out)


def latest_closes(symbols: list[str]) -> dict[str, tuple]:
    """{symbol: (close, close_ts)} of each symbol's newest 1-minute bar: one query."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("""
                SELECT s.symbol, b.close, b.close_ts FROM unnest(%s::varchar[]) AS s(symbol)
                CROSS JOIN LATERAL (SELECT close, close_ts FROM marketdata_bar_1min
                                    WHERE symbol = s.symbol ORDER BY start DESC LIMIT 1) AS b""", [sorted(set(symbols))])
            return {symbol: (close, ts) for symbol, close, ts in cur.fetchall()}
    out = {}
    for symbol in sorted(set(symbols)):
        bar = MinuteBar.objects.filter(symbol=symbol).order_by("-start").only("close", "close_ts").first()
        if bar is not None:
            out[symbol] = (bar.close, bar.close_ts)
    return out


def latest_minute_bars(symbols: list[str]) -> dict[str, tuple]:
    return {s: rows[0] for s, rows in _latest(MinuteBar, symbols, 1).items()}


def latest_daily_bars(symbols: list[str]) -> dict[str, list[tuple]]:
    """The newest two daily bars per symbol (dailyBar, prevDailyBar)."""
    return _latest(DailyBar, symbols, 2)


def decimal_of(text: str) -> Decimal:
    return Decimal(text)
