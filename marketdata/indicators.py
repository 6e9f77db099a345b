"""Technical indicators over bars: SMA, EMA, RSI, MACD, Bollinger bands, VWAP.

Computed in Decimal (28 significant digits; square roots with Decimal.sqrt), never float, and
each output quantized to 6 decimal places (the bars' price precision). Each indicator is an
incremental class (`update(bar) -> value or None`, O(1) per bar), so the same code serves the REST
endpoint (a series) and the feed (one value per closed bar, `IndicatorSet`).

Conventions are TA-Lib's (the reference the tests compare against, ta-lib 0.8.2 in
requirements-dev.txt), on closes:
- SMA(n): mean of the last n closes; first value at the n-th bar.
- EMA(n): k = 2 / (n + 1), seeded with the SMA of the first n closes (first value at the n-th bar),
  then ema += k * (close - ema).
- RSI(n): Wilder's smoothing: the first average gain/loss is the simple mean of the first n
  changes (first value at bar n + 1), then avg = (avg * (n - 1) + x) / n; RSI = 100 * gain /
  (gain + loss), 0 when both are 0.
- MACD(fast, slow, signal): line = EMA(fast) - EMA(slow), both EMAs starting at bar `slow`
  (TA-Lib seeds the fast EMA with the mean of the `fast` closes ending there, not at bar `fast`);
  signal = EMA(signal) of the line seeded with the mean of its first `signal` values; histogram =
  line - signal. The line is given from bar `slow`, signal and histogram from bar slow + signal - 1.
- BBANDS(n, k): middle = SMA(n), upper/lower = middle +- k * population standard deviation of
  the last n closes.
- VWAP (TradeX; TA-Lib has none): anchored at each New York session: sum(bar vwap x volume) /
  sum(volume) of the session's bars so far; a daily bar's VWAP is its own. From the bars' vwap
  (6 decimals), so it is within 1e-6 of the trades' exact VWAP.

For the feed (lead): `IndicatorSet(specs)` keeps one symbol's state; call `update(bar)` with each
closed 1-minute bar (a dict with Alpaca bar fields "t", "c", "v", "vw" as strings, e.g. the ones
bars_apply_trades returns) and it returns {"sma:20": "101.234", ...} (None until warmed up).
`indicators_latest(symbol, specs)` builds one from the symbol's stored 1-minute bars (warm-up
included) for a process that starts mid-session.
"""
from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, localcontext

from django.utils import timezone

from core.errors import InvalidInput
from marketdata.bars.query import bars_page, parse_timeframe
from marketdata.bars.sessions import session_date

Q = Decimal("0.000001")
HUNDRED = Decimal(100)
MAX_PERIOD = 500
MAX_SPECS = 10


def _q(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Q)


class SMA:
    def __init__(self, n: int):
        self.n, self.window, self.total = n, deque(), Decimal(0)

    def update(self, x: Decimal) -> Decimal | None:
        self.window.append(x)
        self.total += x
        if len(self.window) > self.n:
            self.total -= self.window.popleft()
        return self.total / self.n if len(self.window) == self.n else None


class EMA:
    def __init__(self, n: int):
        self.n, self.k, self.value, self.seed = n, Decimal(2) / (n + 1), None, SMA(n)

    def seed_with(self, value: Decimal) -> None:
        self.value = value

    def update(self, x: Decimal) -> Decimal | None:
        if self.value is None:
            self.value = self.seed.update(x)
        else:
            self.value += self.k * (x - self.value)
        return self.value


class RSI:
    def __init__(self, n: int):
        self.n, self.prev, self.count, self.gain, self.loss = n, None, 0, Decimal(0), Decimal(0)

    def update(self, x: Decimal) -> Decimal | None:
        prev, self.prev = self.prev, x
        if prev is None:
            return None
        change = x - prev
        up, down = (change, Decimal(0)) if change > 0 else (Decimal(0), -change)
        self.count += 1
        if self.count <= self.n:
            self.gain += up
            self.loss += down
            if self.count < self.n:
                return None
            self.gain /= self.n
            self.loss /= self.n
        else:
            self.gain = (self.gain * (self.n - 1) + up) / self.n
            self.loss = (self.loss * (self.n - 1) + down) / self.n
        total = self.gain + self.loss
        return HUNDRED * self.gain / total if total else Decimal(0)


class MACD:
    def __init__(self, fast: int, slow: int, signal: int):
        self.fast_n, self.slow = fast, EMA(slow)
        self.fast, self.recent = EMA(fast), deque(maxlen=fast)
        self.signal = EMA(signal)

    def update(self, x: Decimal) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
        self.recent.append(x)
        slow = self.slow.update(x)
        if slow is None:
            return None, None, None
        if self.fast.value is None:  # TA-Lib: the fast EMA starts with the slow one
            self.fast.seed_with(sum(self.recent) / self.fast_n)
        else:
            self.fast.update(x)
        line = self.fast.value - slow
        signal = self.signal.update(line)
        return line, signal, (None if signal is None else line - signal)


class BBands:
    def __init__(self, n: int, k: Decimal):
        self.n, self.k, self.window = n, k, deque(maxlen=n)

    def update(self, x: Decimal) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
        self.window.append(x)
        if len(self.window) < self.n:
            return None, None, None
        mean = sum(self.window) / self.n
        variance = sum((v - mean) ** 2 for v in self.window) / self.n
        band = self.k * variance.sqrt()
        return mean + band, mean, mean - band


class VWAP:
    """Anchored at each session (`session` is a key per bar: its New York session date)."""

    def __init__(self):
        self.session, self.notional, self.volume = None, Decimal(0), Decimal(0)

    def update(self, vwap: Decimal, volume: Decimal, session) -> Decimal | None:
        if session != self.session:
            self.session, self.notional, self.volume = session, Decimal(0), Decimal(0)
        self.notional += vwap * volume
        self.volume += volume
        return self.notional / self.volume if self.volume else None


# --- specs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    name: str
    params: tuple

    @property
    def key(self) -> str:
        return ":".join([self.name, *map(str, self.params)])

    @property
    def lookback(self) -> int:
        if self.name == "macd":
            return self.params[1] + self.params[2]
        if self.name == "vwap":
            return 0
        return self.params[0] + 1

    @property
    def outputs(self) -> tuple[str, ...]:
        return {"macd": ("macd", "signal", "histogram"), "bbands": ("upper", "middle", "lower")}.get(self.name, ())

    def make(self):
        if self.name == "sma":
            return SMA(*self.params)
        if self.name == "ema":
            return EMA(*self.params)
        if self.name == "rsi":
            return RSI(*self.params)
        if self.name == "macd":
            return MACD(*self.params)
        if self.name == "bbands":
            return BBands(*self.params)
        return VWAP()


_ARITY = {"sma": (1, 1), "ema": (1, 1), "rsi": (1, 1), "macd": (3, 3), "bbands": (1, 2), "vwap": (0, 0)}
_DEFAULTS = {"bbands": (20, Decimal(2))}


def _bad(message: str) -> InvalidInput:
    return InvalidInput("invalid_indicators", message)


def _period(text: str, spec: str, minimum: int = 1) -> int:
    if not text.isdigit() or not minimum <= int(text) <= MAX_PERIOD:
        raise _bad(f"{spec}: period must be an integer {minimum}..{MAX_PERIOD}")
    return int(text)


def parse_specs(text: str) -> list[Spec]:
    """"sma:20,ema:12,rsi:14,macd:12:26:9,bbands:20:2,vwap" -> specs (422 invalid_indicators)."""
    parts = [p.strip().lower() for p in (text or "").split(",") if p.strip()]
    if not parts:
        raise _bad("indicators is required, e.g. sma:20,ema:12,rsi:14,macd:12:26:9,bbands:20:2,vwap")
    if len(parts) > MAX_SPECS:
        raise _bad(f"at most {MAX_SPECS} indicators per request")
    specs = []
    for part in parts:
        name, *args = part.split(":")
        if name not in _ARITY:
            raise _bad(f"unknown indicator {name!r}: expected one of {', '.join(_ARITY)}")
        lo, hi = _ARITY[name]
        if not lo <= len(args) <= hi:
            raise _bad(f"{part}: {name} takes {lo if lo == hi else f'{lo}..{hi}'} parameter(s)")
        if name == "bbands":
            n = _period(args[0], part, 2)
            try:
                k = Decimal(args[1]) if len(args) > 1 else _DEFAULTS["bbands"][1]
            except ArithmeticError:
                raise _bad(f"{part}: the band width must be a number") from None
            if not k.is_finite() or not Decimal("0.1") <= k <= Decimal(10):
                raise _bad(f"{part}: the band width must be 0.1..10")
            specs.append(Spec(name, (n, k)))
        elif name == "macd":
            fast, slow, signal = (_period(a, part) for a in args)
            if fast >= slow:
                raise _bad(f"{part}: the fast period must be shorter than the slow one")
            specs.append(Spec(name, (fast, slow, signal)))
        elif name == "vwap":
            specs.append(Spec(name, ()))
        else:
            specs.append(Spec(name, (_period(args[0], part, 2 if name == "rsi" else 1),)))
    if len({s.key for s in specs}) != len(specs):
        raise _bad("an indicator is listed twice")
    return specs


def _fmt(value: Decimal | None) -> str | None:
    if value is None:
        return None
    value = _q(value)
    return "0" if not value else format(value.normalize(), "f")


class IndicatorSet:
    """One symbol's indicators, updated bar by bar. `update` takes a bar with Decimal or decimal
    string fields "t" (datetime or RFC 3339), "c", "v", "vw"; returns {spec key: value} where a
    value is a decimal string (or None while warming up), MACD and BBANDS a dict of their outputs."""

    def __init__(self, specs: list[Spec]):
        self.specs = specs
        self.state = [s.make() for s in specs]

    def update(self, bar: dict) -> dict:
        with localcontext() as ctx:
            ctx.prec = 28
            close = Decimal(bar["c"])
            out = {}
            for spec, state in zip(self.specs, self.state):
                if spec.name == "vwap":
                    t = bar["t"]
                    if isinstance(t, str):
                        t = datetime.fromisoformat(t.replace("Z", "+00:00"))
                    value = state.update(Decimal(bar["vw"]), Decimal(bar["v"]), session_date(t))
                else:
                    value = state.update(close)
                if spec.outputs:
                    out[spec.key] = {name: _fmt(v) for name, v in zip(spec.outputs, value)}
                else:
                    out[spec.key] = _fmt(value)
            return out


def compute(specs: list[Spec], bars: list[dict]) -> list[dict]:
    """The indicator values at every bar of the series (the series' first bar seeds them)."""
    series = IndicatorSet(specs)
    return [series.update(bar) for bar in bars]


# --- over stored bars ----------------------------------------------------------------------------


def _rows_to_bars(rows) -> list[dict]:
    return [{"t": t, "o": o, "h": h, "l": lo, "c": c, "v": v, "n": n, "vw": vw} for t, o, h, lo, c, v, n, vw in rows]


def stored_bars(*, symbol: str, timeframe, start: datetime, end: datetime, limit: int, warmup: int) -> tuple[list, list]:
    """(warm-up bars before the returned ones, the last `limit` bars in [start, end]), oldest first."""
    far = datetime(2000, 1, 1, tzinfo=start.tzinfo)
    page, _ = bars_page(symbols=[symbol], timeframe=timeframe, start=start, end=end, limit=limit, desc=True)
    main = list(reversed(page.get(symbol, [])))
    before = []
    if main and warmup:
        first = datetime.fromisoformat(main[0][0].replace("Z", "+00:00"))
        page, _ = bars_page(symbols=[symbol], timeframe=timeframe, start=far, end=first - timedelta(microseconds=1),
                            limit=warmup, desc=True)
        before = list(reversed(page.get(symbol, [])))
    return _rows_to_bars(before), _rows_to_bars(main)


def warmup_for(specs: list[Spec]) -> int:
    """Bars read before the first returned one: 4x the longest lookback, so EMA-based values
    (whose seed fades as (1 - k)^bars) have settled to well within the output precision."""
    return 4 * max(s.lookback for s in specs)


def indicators_over_bars(*, symbol: str, timeframe, start: datetime, end: datetime, specs: list[Spec],
                         limit: int) -> dict:
    before, main = stored_bars(symbol=symbol, timeframe=timeframe, start=start, end=end, limit=limit,
                               warmup=warmup_for(specs))
    values = compute(specs, before + main)[len(before):]
    return {"bars": main, "values": values, "warmup": len(before), "specs": specs}


def result_json(symbol: str, timeframe: str, result: dict) -> str:
    """{"symbol", "timeframe", "warmup_bars", "indicators": {key: [{"t", "c", "value" | outputs}]}}
    with the values as JSON numbers (null while warming up)."""
    bars, values = result["bars"], result["values"]
    columns = {}
    for spec in result["specs"]:
        rows = []
        for bar, v in zip(bars, values):
            value = v[spec.key]
            if isinstance(value, dict):
                fields = ",".join(f'"{k}":{x if x is not None else "null"}' for k, x in value.items())
            else:
                fields = f'"value":{value if value is not None else "null"}'
            rows.append(f'{{"t":"{bar["t"]}","c":{bar["c"]},{fields}}}')
        columns[spec.key] = "[" + ",".join(rows) + "]"
    body = ",".join(f"{json.dumps(k)}:{v}" for k, v in columns.items())
    return (f'{{"symbol":{json.dumps(symbol)},"timeframe":{json.dumps(timeframe)},'
            f'"warmup_bars":{result["warmup"]},"indicators":{{{body}}}}}')


def indicators_latest(symbol: str, specs: list[Spec] | str, *, now: datetime | None = None) -> IndicatorSet:
    """An IndicatorSet warmed up on the symbol's stored 1-minute bars up to `now` (for the feed,
    at start-up); feed it each closed bar afterwards. `specs` may be the query-string form."""
    if isinstance(specs, str):
        specs = parse_specs(specs)
    now = now or timezone.now()
    before, main = stored_bars(symbol=symbol, timeframe=parse_timeframe("1Min"), start=now - timedelta(days=7),
                               end=now, limit=warmup_for(specs), warmup=0)
    state = IndicatorSet(specs)
    for bar in before + main:
        state.update(bar)
    return state
