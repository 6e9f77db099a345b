"""History for the demo: a year of 1-minute and daily bars per symbol from the simulator's price model.

The model is the exchange simulator's (exchange_sim/walk.py): a geometric random walk of log-price
with the symbol's `SymbolSpec.volatility` as the standard deviation per step, prices rounded to the
spec's tick as `ReferenceWalk.on_tick` does. Here it is drawn with numpy for the whole year at once
(4 steps per minute, so each minute has its own high and low; one larger overnight step between
sessions), seeded by (seed, symbol), and anchored so that the last close equals the reference price:
the history ends where the live simulator starts. Volumes follow the intraday U-shape; a bar's vwap
(4 decimals) is its typical price clamped to [low, high], notional = vwap x volume exactly.

Only real trading minutes: XNYS sessions (exchange_calendars) from the open to the close, early
closes respected, ending at the last session completed by `now`. Deterministic: the same seed, end
session and symbols give the same bars.

Writing: on PostgreSQL each symbol's rows are sent with one binary COPY per table; the rows are
built as a numpy structured array in PostgreSQL's binary COPY layout (numeric as base-10000 digit
groups, timestamps as microseconds since 2000-01-01), so no Python object is made per value.
Elsewhere (SQLite, embedded mode) one executemany of pre-formatted values per table. Idempotent: a symbol that already has a
1-minute or daily bar inside the range is skipped (its history exists, or the live feed owns it).
"""
from __future__ import annotations

import math
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import numpy as np
from django.db import connection, transaction

from core.wire.listing import SymbolSpec
from marketdata.calendar import sessions as xnys_sessions

from ..models_bars import DailyBar, MinuteBar
from .sessions import daily_start

UTC = timezone.utc
STEPS_PER_MINUTE = 4
OVERNIGHT_STEPS = 64  # the overnight move: as much variance as 64 intraday steps
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Plan:
    """The sessions to fill: `days` sessions of daily bars, the last `minute_days` of them with 1-minute bars."""

    sessions: list  # marketdata.calendar.Session, oldest first
    minute_days: int

    @property
    def minute_sessions(self) -> list:
        return self.sessions[len(self.sessions) - self.minute_days:] if self.minute_days else []


def plan(*, now: datetime, days: int = 365, minute_days: int | None = None) -> Plan:
    """Sessions of the `days` calendar days ending with the last session completed by `now`."""
    all_sessions = [s for s in xnys_sessions(now.date() - timedelta(days=days + 7), now.date()) if s.close <= now]
    last = all_sessions[-1].date
    chosen = [s for s in all_sessions if s.date > last - timedelta(days=days)]
    minute_days = len(chosen) if minute_days is None else max(0, min(minute_days, len(chosen)))
    return Plan(chosen, minute_days)


def _minutes_of(sessions) -> tuple:
    """UTC minute starts (as numpy datetime64[us]) of the sessions, and each session's first index."""
    chunks, firsts, n = [], [], 0
    for s in sessions:
        count = int((s.close - s.open).total_seconds() // 60)
        start = np.datetime64(s.open.astimezone(UTC).replace(tzinfo=None), "us")
        chunks.append(start + np.arange(count) * np.timedelta64(60, "s"))
        firsts.append(n)
        n += count
    return np.concatenate(chunks), np.array(firsts)


@dataclass
class SymbolBars:
    """Integer arrays: prices in ticks of 0.0001 (4 decimals), volumes in shares."""

    symbol: str
    start: object  # datetime64[us]
    o: object
    h: object
    lo: object
    c: object
    v: object
    n: object
    vw: object
    notional: object  # in 0.0001 units
    open_ts: object
    close_ts: object

    def __len__(self) -> int:
        return len(self.start)


def simulate(spec: SymbolSpec, minutes, firsts, *, seed: int) -> SymbolBars:
    rng = np.random.default_rng([seed, zlib.crc32(spec.symbol.encode())])
    m = len(minutes)
    sigma = float(spec.volatility)
    steps = rng.standard_normal((m, STEPS_PER_MINUTE)) * (sigma / math.sqrt(STEPS_PER_MINUTE))
    steps[firsts, 0] += rng.standard_normal(len(firsts)) * sigma * math.sqrt(OVERNIGHT_STEPS)
    path = np.cumsum(steps.ravel()).reshape(m, STEPS_PER_MINUTE)
    path -= path[-1, -1]  # the last close is the reference price
    opens = np.empty(m)
    opens[0] = path[0, 0]
    opens[1:] = path[:-1, -1]
    opens[firsts[1:]] = path[firsts[1:], 0]  # a session opens after the overnight move
    points = np.concatenate([opens[:, None], path], axis=1)
    # ReferenceWalk.on_tick: ticks = round(reference / tick * exp(offset)), at least one tick.
    tick = spec.tick
    per_tick = float(spec.reference_price / tick)
    ticks = np.maximum(np.rint(per_tick * np.exp(points)), 1).astype(np.int64)
    scale = int(tick / Decimal("0.0001"))  # ticks -> 0.0001 units
    o, c = ticks[:, 0] * scale, ticks[:, -1] * scale
    h, lo = ticks.max(axis=1) * scale, ticks.min(axis=1) * scale
    # Volume: the intraday U-shape (busier at the open and close) times lognormal noise.
    position = np.zeros(m)
    bounds = list(firsts) + [m]
    for a, b in zip(bounds[:-1], bounds[1:]):
        position[a:b] = np.linspace(0.0, 1.0, b - a)
    base = max(100.0, 2_000_000.0 / float(spec.reference_price))
    volume = np.maximum(np.rint(base * (0.6 + 2.4 * (position - 0.5) ** 2) * rng.lognormal(0.0, 0.4, m)), 1)
    volume = volume.astype(np.int64)
    count = np.maximum(np.rint(volume / rng.uniform(60, 140, m)), 1).astype(np.int64)
    vwap = np.clip(np.rint((h + lo + c) / 3.0), lo, h).astype(np.int64)
    return SymbolBars(spec.symbol, minutes, o, h, lo, c, volume, count, vwap, vwap * volume,
                      minutes, minutes + np.timedelta64(59, "s"))


def daily_of(bars: SymbolBars, firsts, sessions) -> SymbolBars:
    idx = np.asarray(firsts)
    last = np.append(idx[1:], len(bars)) - 1
    v = np.add.reduceat(bars.v, idx)
    notional = np.add.reduceat(bars.notional, idx)
    starts = np.array([np.datetime64(daily_start(s.date).replace(tzinfo=None), "us") for s in sessions])
    return SymbolBars(bars.symbol, starts, bars.o[idx], np.maximum.reduceat(bars.h, idx),
                      np.minimum.reduceat(bars.lo, idx), bars.c[last], v, np.add.reduceat(bars.n, idx),
                      np.rint(notional / v).astype(np.int64), notional, bars.open_ts[idx], bars.close_ts[last])


# --- PostgreSQL binary COPY, built with numpy ------------------------------------------------------

COPY_COLUMNS = ("symbol", "start", "open", "high", "low", "close", "volume", "trade_count", "vwap", "notional",
                "open_ts", "close_ts")
HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
TRAILER = struct.pack("!h", -1)
NUM_GROUPS = 5  # base-10000 digit groups: 4 before the decimal point (up to 10^16), 1 after (4 decimals)


def _numeric_dtype(name: str) -> list:
    return [(f"{name}_len", ">i4"), (f"{name}_nd", ">i2"), (f"{name}_w", ">i2"), (f"{name}_sign", ">i2"),
            (f"{name}_ds", ">i2"), (f"{name}_d", ">i2", (NUM_GROUPS,))]


def _row_dtype(symbol_len: int):
    fields = [("nfields", ">i2"), ("sym_len", ">i4"), ("sym", f"S{symbol_len}"), ("start_len", ">i4"), ("start", ">i8")]
    for name in ("open", "high", "low", "close", "volume"):
        fields += _numeric_dtype(name)
    fields += [("n_len", ">i4"), ("n", ">i8")]
    for name in ("vwap", "notional"):
        fields += _numeric_dtype(name)
    fields += [("ots_len", ">i4"), ("ots", ">i8"), ("cts_len", ">i4"), ("cts", ">i8")]
    return np.dtype(fields)


def _put_numeric(rows, name: str, units) -> None:
    """units: non-negative int64 values in 0.0001 (base-10000 fraction group)."""
    rows[f"{name}_len"] = 8 + 2 * NUM_GROUPS
    rows[f"{name}_nd"] = NUM_GROUPS
    rows[f"{name}_w"] = NUM_GROUPS - 2  # first group is 10000^3
    rows[f"{name}_sign"] = 0
    rows[f"{name}_ds"] = 4
    digits = np.empty((len(units), NUM_GROUPS), dtype=np.int64)
    rest = units.astype(np.int64)
    for i in range(NUM_GROUPS - 1, -1, -1):
        digits[:, i] = rest % 10000
        rest = rest // 10000
    rows[f"{name}_d"] = digits


def _us_since_2000(values):
    return (values - np.datetime64("2000-01-01T00:00:00", "us")).astype(np.int64)


def copy_payload(bars: SymbolBars, *, shares=1) -> bytes:
    """The rows of one symbol in PostgreSQL's binary COPY format (header and trailer included)."""
    sym = bars.symbol.encode()
    rows = np.zeros(len(bars), dtype=_row_dtype(len(sym)))
    rows["nfields"] = len(COPY_COLUMNS)
    rows["sym_len"], rows["sym"] = len(sym), sym
    rows["start_len"], rows["start"] = 8, _us_since_2000(bars.start)
    for name, values in (("open", bars.o), ("high", bars.h), ("low", bars.lo), ("close", bars.c),
                         ("vwap", bars.vw), ("notional", bars.notional)):
        _put_numeric(rows, name, values)
    _put_numeric(rows, "volume", bars.v * 10000)
    rows["n_len"], rows["n"] = 8, bars.n
    rows["ots_len"], rows["ots"] = 8, _us_since_2000(bars.open_ts)
    rows["cts_len"], rows["cts"] = 8, _us_since_2000(bars.close_ts)
    return HEADER + rows.tobytes() + TRAILER


def _copy(table: str, payload: bytes) -> None:
    with connection.cursor() as cur:
        raw = cur.cursor if hasattr(cur, "cursor") else cur
        with raw.copy(f"COPY {table} ({', '.join(COPY_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(payload)


# --- other databases (SQLite): one executemany of pre-formatted values --------------------------


def _units_text(values) -> list[str]:
    """0.0001 units as decimal strings, what Django's own adapters write for a DecimalField."""
    return [f"{v // 10000}.{v % 10000:04d}" for v in values.tolist()]


def _times(values) -> list:
    adapt = connection.ops.adapt_datetimefield_value
    return [adapt(t.replace(tzinfo=UTC)) for t in values.astype("datetime64[us]").tolist()]


def _insert(model, bars: SymbolBars) -> None:
    columns = [_units_text(bars.o), _units_text(bars.h), _units_text(bars.lo), _units_text(bars.c),
               [str(v) for v in bars.v.tolist()], bars.n.tolist(), _units_text(bars.vw), _units_text(bars.notional)]
    rows = list(zip([bars.symbol] * len(bars), _times(bars.start), *columns, _times(bars.open_ts), _times(bars.close_ts)))
    sql = (f"INSERT INTO {model._meta.db_table} ({', '.join(COPY_COLUMNS)}) "
           f"VALUES ({', '.join(['%s'] * len(COPY_COLUMNS))})")
    with connection.cursor() as cur:
        for i in range(0, len(rows), 20_000):
            cur.executemany(sql, rows[i:i + 20_000])


_U = Decimal("0.0001")


def _models(model, bars: SymbolBars) -> list:
    """The rows as model instances with their exact Decimals (for tests)."""
    def ts(values):
        return [datetime.fromtimestamp(int(x) / 1e6, UTC) for x in values.astype("datetime64[us]").astype(np.int64)]

    starts, ots, cts = ts(bars.start), ts(bars.open_ts), ts(bars.close_ts)
    return [model(symbol=bars.symbol, start=starts[i], open=int(bars.o[i]) * _U, high=int(bars.h[i]) * _U,
                  low=int(bars.lo[i]) * _U, close=int(bars.c[i]) * _U, volume=Decimal(int(bars.v[i])),
                  trade_count=int(bars.n[i]), vwap=int(bars.vw[i]) * _U, notional=int(bars.notional[i]) * _U,
                  open_ts=ots[i], close_ts=cts[i])
            for i in range(len(bars))]


# --- the use case ----------------------------------------------------------------------------------


def _has_bars(symbol: str, p: Plan) -> bool:
    first, last = p.sessions[0], p.sessions[-1]
    return (DailyBar.objects.filter(symbol=symbol, start__gte=daily_start(first.date),
                                    start__lte=daily_start(last.date)).exists()
            or MinuteBar.objects.filter(symbol=symbol, start__gte=first.open, start__lt=last.close).exists())


def bars_backfill(*, specs: dict[str, SymbolSpec], now: datetime, seed: int = 42, days: int = 365,
                  minute_days: int | None = None, progress=None, copy: bool | None = None) -> dict:
    """Write the history of each symbol lacking it (module docstring). Returns counts."""
    p = plan(now=now, days=days, minute_days=minute_days)
    minutes, firsts = _minutes_of(p.sessions)
    cut = len(p.sessions) - p.minute_days
    minute_from = int(firsts[cut]) if cut < len(firsts) else len(minutes)
    pg = connection.vendor == "postgresql" if copy is None else copy  # copy=False: the SQLite path (tests)
    done = {"symbols": 0, "skipped": 0, "minute_bars": 0, "daily_bars": 0,
            "first_session": p.sessions[0].date, "last_session": p.sessions[-1].date, "minute_sessions": p.minute_days}
    todo = []
    for symbol in sorted(specs):
        if _has_bars(symbol, p):
            done["skipped"] += 1
        else:
            todo.append(symbol)

    def build(symbol: str):
        """The symbol's rows, and on PostgreSQL their COPY payloads (numpy: mostly outside the GIL)."""
        bars = simulate(specs[symbol], minutes, firsts, seed=seed)
        daily = daily_of(bars, firsts, p.sessions)
        recent = SymbolBars(symbol, *(getattr(bars, f)[minute_from:] for f in (
            "start", "o", "h", "lo", "c", "v", "n", "vw", "notional", "open_ts", "close_ts")))
        if pg:
            return recent, daily, copy_payload(daily), copy_payload(recent) if len(recent) else None
        return recent, daily, None, None

    # The next symbol is built while the database ingests this one's COPY.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(build, todo[0]) if todo else None
        for i, symbol in enumerate(todo):
            recent, daily, daily_payload, minute_payload = pending.result()
            pending = pool.submit(build, todo[i + 1]) if i + 1 < len(todo) else None
            with transaction.atomic():
                if pg:
                    _copy(DailyBar._meta.db_table, daily_payload)
                    if minute_payload is not None:
                        _copy(MinuteBar._meta.db_table, minute_payload)
                else:
                    _insert(DailyBar, daily)
                    _insert(MinuteBar, recent)
            done["symbols"] += 1
            done["minute_bars"] += len(recent)
            done["daily_bars"] += len(daily)
            if progress:
                progress(symbol, len(recent), len(daily))
    if connection.vendor == "postgresql" and done["symbols"]:
        with connection.cursor() as cur:  # fresh statistics: the planner must see the new rows
            cur.execute(f"ANALYZE {MinuteBar._meta.db_table}")
            cur.execute(f"ANALYZE {DailyBar._meta.db_table}")
    return done


def session_dates(p: Plan) -> list[date]:
    return [s.date for s in p.sessions]
