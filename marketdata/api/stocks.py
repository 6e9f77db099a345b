"""Alpaca Market Data API v2 for stocks, mounted under /v2/stocks/ (docs/marketdata-bars.md), so
alpaca-py's StockHistoricalDataClient(key, secret, url_override="http://host:port") works unchanged.

    GET /v2/stocks/bars?symbols=A,B&timeframe=1Min&start&end&limit&page_token&sort   (and /{symbol}/bars)
    GET /v2/stocks/bars/latest, /quotes/latest, /trades/latest?symbols=A,B           (and /{symbol}/...)
    GET /v2/stocks/snapshots?symbols=A,B, /v2/stocks/{symbol}/snapshot
    GET /v2/stocks/{symbol}/indicators?timeframe=1Day&indicators=sma:20,rsi:14       (TradeX extension)

Any authenticated caller (API key or session) may read market data; it is not account data.
Numbers are JSON numbers written from the exact decimals (Alpaca's market-data shape; the trading
API writes strings). Errors: 422 with reason invalid_timeframe, invalid_start, invalid_end,
invalid_range, invalid_limit, invalid_sort, invalid_feed, invalid_adjustment, invalid_currency,
invalid_page_token, missing_symbols, invalid_symbols, unknown_symbol (some symbols of a
multi-symbol request are not assets), invalid_indicators; 404 unknown_symbol on a single-symbol
path; 401 without credentials.
"""
from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timezone
from decimal import Decimal, InvalidOperation

from django.http import HttpResponse
from django.utils import timezone as dj_timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema

from core.api import ERRORS, TradeXAPIView
from core.errors import InvalidInput, NotFound
from core.values import is_integer_text

from .. import indicators as ind
from ..bars.apply import dec
from ..bars.query import MAX_LIMIT, bar_json, bars_page, latest_daily_bars, latest_minute_bars, parse_timeframe
from ..calendar import NEW_YORK
from ..models import Asset
from ..selectors import latest_quotes, latest_trades

UTC = timezone.utc
DEFAULT_LIMIT = 1000
FEEDS = {"iex", "sip", "otc", "delayed_sip", "boats", "overnight"}
# TradeX records no corporate actions, so every adjustment gives the raw bars.
ADJUSTMENTS = {"raw", "split", "dividend", "spin-off", "all"}
_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9.\-/]{0,15}$")
MAX_SYMBOLS = 200
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # the calendar's first date


def _json(body: str) -> HttpResponse:
    return HttpResponse(body, content_type="application/json")


def _num(text) -> str:
    """A decimal string from the cache as a JSON number (validated: the text goes out raw)."""
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        return "null"
    return dec(value) if value.is_finite() else "null"


# --- query parameters --------------------------------------------------------------------------


def _parse_time(raw: str | None, name: str) -> datetime | None:
    if raw in (None, ""):
        return None
    raw = raw.replace(" ", "+")  # an unescaped "+" of an offset arrives as a space
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), time(0), UTC)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"invalid_{name}", f"{name} must be RFC 3339 or YYYY-MM-DD, got {raw!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _choice(params, name: str, allowed: set[str], default: str | None = None) -> str | None:
    value = params.get(name) or default
    if value is not None and value not in allowed:
        raise InvalidInput(f"invalid_{name}", f"{name} must be one of {', '.join(sorted(allowed))}")
    return value


def _limit(params, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    raw = params.get("limit")
    if raw in (None, ""):
        return default
    value = int(raw) if is_integer_text(raw) else 0
    if not 1 <= value <= maximum:
        raise InvalidInput("invalid_limit", f"limit must be an integer 1..{maximum}")
    return value


def _common(params) -> None:
    _choice(params, "feed", FEEDS)
    _choice(params, "adjustment", ADJUSTMENTS)
    _choice(params, "currency", {"USD"})


def _symbols_param(params) -> list[str]:
    raw = params.get("symbols")
    if not raw:
        raise InvalidInput("missing_symbols", "symbols is required (comma-separated)")
    symbols = sorted({s.strip().upper() for s in raw.split(",") if s.strip()})
    if not symbols or len(symbols) > MAX_SYMBOLS or not all(_SYMBOL.match(s) for s in symbols):
        raise InvalidInput("invalid_symbols", f"symbols must be 1..{MAX_SYMBOLS} ticker symbols")
    return _known(symbols)


def _known(symbols: list[str]) -> list[str]:
    found = set(Asset.objects.filter(symbol__in=symbols).values_list("symbol", flat=True))
    unknown = [s for s in symbols if s not in found]
    if unknown:
        raise InvalidInput("unknown_symbol", f"unknown symbol(s): {', '.join(unknown)}")
    return symbols


def _one_symbol(symbol: str) -> str:
    symbol = symbol.upper()
    if not _SYMBOL.match(symbol) or not Asset.objects.filter(symbol=symbol).exists():
        raise NotFound(f"unknown symbol {symbol}", reason="unknown_symbol")
    return symbol


def _range(params, default_start: datetime | None = None) -> tuple[datetime, datetime]:
    now = dj_timezone.now()
    start = _parse_time(params.get("start"), "start") or default_start
    end = _parse_time(params.get("end"), "end") or now
    if start is None:  # Alpaca's default: the beginning of the current (New York) day
        start = datetime.combine(now.astimezone(NEW_YORK).date(), time(0), NEW_YORK).astimezone(UTC)
    if start > end:
        raise InvalidInput("invalid_range", "start must not be after end")
    return start, end


# --- bars ----------------------------------------------------------------------------------------

# --- the query parameters as the schema declares them (the contract: exactly what the parsers accept)

SYMBOLS_PARAM = OpenApiParameter(
    "symbols", {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9./-]{0,15}(,[A-Za-z0-9][A-Za-z0-9./-]{0,15})*$"},
    required=True, description=f"comma-separated ticker symbols, 1..{MAX_SYMBOLS}")
TIMEFRAME_PARAM = OpenApiParameter(
    "timeframe", {"type": "string", "pattern": r"^(([1-9]|[1-5][0-9])(Min|T)|([1-9]|1[0-9]|2[0-3])(Hour|H)|1(Day|D))$"},
    required=True, description="1Min, 5Min, 15Min, 30Min, 1Hour, 4Hour, 1Day (any N Min below 60 and N Hour below 24)")


def limit_param(maximum: int, description: str) -> OpenApiParameter:
    return OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": maximum}, description=description)


def choice_param(name: str, allowed) -> OpenApiParameter:
    return OpenApiParameter(name, str, enum=sorted(allowed))


COMMON_PARAMS = [choice_param("feed", FEEDS), choice_param("currency", {"USD"})]
BAR_PARAMS = [
    TIMEFRAME_PARAM,
    OpenApiParameter("start", OpenApiTypes.DATETIME, description="RFC 3339 or YYYY-MM-DD, inclusive; default: "
                     "the start of the current New York day"),
    OpenApiParameter("end", OpenApiTypes.DATETIME, description="inclusive; default now"),
    limit_param(MAX_LIMIT, f"1..{MAX_LIMIT} bars over all symbols, default {DEFAULT_LIMIT}"),
    OpenApiParameter("page_token", str, description="next_page_token of the previous page"),
    choice_param("sort", {"asc", "desc"}), *COMMON_PARAMS, choice_param("adjustment", ADJUSTMENTS),
    OpenApiParameter("asof", str),
]


def _bars(params, symbols: list[str]) -> tuple[dict, str | None]:
    _common(params)
    timeframe = parse_timeframe(params.get("timeframe", ""))
    start, end = _range(params)
    desc = _choice(params, "sort", {"asc", "desc"}, "asc") == "desc"
    return bars_page(symbols=symbols, timeframe=timeframe, start=start, end=end, limit=_limit(params), desc=desc,
                     page_token=params.get("page_token") or None, as_json=True)


def _token(token: str | None) -> str:
    return json.dumps(token)


class BarsView(TradeXAPIView):
    @extend_schema(operation_id="stock_bars", parameters=[SYMBOLS_PARAM, *BAR_PARAMS],
                   responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request):
        bars, token = _bars(request.query_params, _symbols_param(request.query_params))
        body = ",".join(f'{json.dumps(s)}:[{",".join(rows)}]' for s, rows in bars.items())
        return _json(f'{{"bars":{{{body}}},"next_page_token":{_token(token)},"currency":"USD"}}')


class SymbolBarsView(TradeXAPIView):
    @extend_schema(operation_id="stock_symbol_bars", parameters=BAR_PARAMS, responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request, symbol: str):
        symbol = _one_symbol(symbol)
        bars, token = _bars(request.query_params, [symbol])
        rows = ",".join(bars.get(symbol, []))
        return _json(f'{{"bars":[{rows}],"symbol":{json.dumps(symbol)},"next_page_token":{_token(token)},'
                     f'"currency":"USD"}}')


# --- latest ----------------------------------------------------------------------------------------


def quote_json(q: dict) -> str:
    return (f'{{"t":{json.dumps(q.get("t"))},"bx":{json.dumps(q.get("bx", ""))},"bp":{_num(q.get("bp", 0))},'
            f'"bs":{_num(q.get("bs", 0))},"ax":{json.dumps(q.get("ax", ""))},"ap":{_num(q.get("ap", 0))},'
            f'"as":{_num(q.get("as", 0))},"c":{json.dumps(q.get("c", []))},"z":{json.dumps(q.get("z", "C"))}}}')


def trade_json(t: dict) -> str:
    return (f'{{"t":{json.dumps(t.get("t"))},"x":{json.dumps(t.get("x", ""))},"p":{_num(t.get("p", 0))},'
            f'"s":{_num(t.get("s", 0))},"i":{int(t.get("i") or 0)},"c":{json.dumps(t.get("c", []))},'
            f'"z":{json.dumps(t.get("z", "C"))}}}')


def _latest_bar_json(row: tuple | None) -> str:
    return "null" if row is None else bar_json(row[1:])


def _symbol_map(values: dict[str, str]) -> str:
    return "{" + ",".join(f"{json.dumps(s)}:{v}" for s, v in sorted(values.items())) + "}"


LATEST_PARAMS = [SYMBOLS_PARAM, *COMMON_PARAMS]


class LatestBarsView(TradeXAPIView):
    @extend_schema(operation_id="stock_latest_bars", parameters=LATEST_PARAMS, responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request):
        _common(request.query_params)
        bars = latest_minute_bars(_symbols_param(request.query_params))
        return _json(f'{{"bars":{_symbol_map({s: _latest_bar_json(r) for s, r in bars.items()})}}}')


class SymbolLatestBarView(TradeXAPIView):
    @extend_schema(operation_id="stock_symbol_latest_bar", responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request, symbol: str):
        _common(request.query_params)
        symbol = _one_symbol(symbol)
        row = latest_minute_bars([symbol]).get(symbol)
        return _json(f'{{"symbol":{json.dumps(symbol)},"bar":{_latest_bar_json(row)}}}')


class LatestQuotesView(TradeXAPIView):
    @extend_schema(operation_id="stock_latest_quotes", parameters=LATEST_PARAMS, responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request):
        _common(request.query_params)
        quotes = latest_quotes(_symbols_param(request.query_params))
        return _json(f'{{"quotes":{_symbol_map({s: quote_json(q) for s, q in quotes.items()})}}}')


class SymbolLatestQuoteView(TradeXAPIView):
    @extend_schema(operation_id="stock_symbol_latest_quote", responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request, symbol: str):
        _common(request.query_params)
        symbol = _one_symbol(symbol)
        quote = latest_quotes([symbol]).get(symbol)
        if quote is None:
            raise NotFound(f"no quote for {symbol} yet", reason="no_quote")
        return _json(f'{{"symbol":{json.dumps(symbol)},"quote":{quote_json(quote)}}}')


class LatestTradesView(TradeXAPIView):
    @extend_schema(operation_id="stock_latest_trades", parameters=LATEST_PARAMS, responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request):
        _common(request.query_params)
        trades = latest_trades(_symbols_param(request.query_params))
        return _json(f'{{"trades":{_symbol_map({s: trade_json(t) for s, t in trades.items()})}}}')


class SymbolLatestTradeView(TradeXAPIView):
    @extend_schema(operation_id="stock_symbol_latest_trade", responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request, symbol: str):
        _common(request.query_params)
        symbol = _one_symbol(symbol)
        trade = latest_trades([symbol]).get(symbol)
        if trade is None:
            raise NotFound(f"no trade for {symbol} yet", reason="no_trade")
        return _json(f'{{"symbol":{json.dumps(symbol)},"trade":{trade_json(trade)}}}')


# --- snapshots ---------------------------------------------------------------------------------------


def _snapshots(symbols: list[str]) -> dict[str, str]:
    trades, quotes = latest_trades(symbols), latest_quotes(symbols)
    minutes, days = latest_minute_bars(symbols), latest_daily_bars(symbols)
    out = {}
    for s in symbols:
        daily = days.get(s, [])
        out[s] = (f'"latestTrade":{trade_json(trades[s]) if s in trades else "null"},'
                  f'"latestQuote":{quote_json(quotes[s]) if s in quotes else "null"},'
                  f'"minuteBar":{_latest_bar_json(minutes.get(s))},'
                  f'"dailyBar":{_latest_bar_json(daily[0] if daily else None)},'
                  f'"prevDailyBar":{_latest_bar_json(daily[1] if len(daily) > 1 else None)}')
    return out


class SnapshotsView(TradeXAPIView):
    @extend_schema(operation_id="stock_snapshots", parameters=LATEST_PARAMS, responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request):
        _common(request.query_params)
        snaps = _snapshots(_symbols_param(request.query_params))
        return _json(_symbol_map({s: "{" + body + "}" for s, body in snaps.items()}))


class SymbolSnapshotView(TradeXAPIView):
    @extend_schema(operation_id="stock_symbol_snapshot", responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request, symbol: str):
        _common(request.query_params)
        symbol = _one_symbol(symbol)
        return _json(f'{{"symbol":{json.dumps(symbol)},{_snapshots([symbol])[symbol]}}}')


# --- indicators (TradeX extension) ---------------------------------------------------------------


class IndicatorsView(TradeXAPIView):
    @extend_schema(operation_id="stock_symbol_indicators", parameters=[
        TIMEFRAME_PARAM,
        OpenApiParameter("indicators", str, required=True,
                         description="comma-separated: sma:N, ema:N, rsi:N, macd:FAST:SLOW:SIGNAL, bbands:N:K, vwap"),
        OpenApiParameter("start", OpenApiTypes.DATETIME, description="default: no lower bound (the last `limit` bars)"),
        OpenApiParameter("end", OpenApiTypes.DATETIME, description="default now"),
        limit_param(MAX_LIMIT, f"bars to return (most recent), 1..{MAX_LIMIT}, default 1000"),
    ], responses={200: OpenApiTypes.OBJECT, **ERRORS},
        description="Indicator values over the symbol's bars. Bars before `start` are read as warm-up so "
                    "the first returned values are already settled.")
    def get(self, request, symbol: str):
        params = request.query_params
        symbol = _one_symbol(symbol)
        specs = ind.parse_specs(params.get("indicators", ""))
        timeframe = parse_timeframe(params.get("timeframe", ""))
        start, end = _range(params, default_start=EARLIEST)
        result = ind.indicators_over_bars(symbol=symbol, timeframe=timeframe, start=start, end=end, specs=specs,
                                          limit=_limit(params))
        return _json(ind.result_json(symbol, timeframe.text, result))


# --- routes (included under /v2/ by tradex/api_urls.py, before its catch-all) ---------------------

from django.urls import path  # noqa: E402

stocks_urlpatterns = [
    path("stocks/bars", BarsView.as_view(), name="stock-bars"),
    path("stocks/bars/latest", LatestBarsView.as_view(), name="stock-bars-latest"),
    path("stocks/quotes/latest", LatestQuotesView.as_view(), name="stock-quotes-latest"),
    path("stocks/trades/latest", LatestTradesView.as_view(), name="stock-trades-latest"),
    path("stocks/snapshots", SnapshotsView.as_view(), name="stock-snapshots"),
    path("stocks/<str:symbol>/bars", SymbolBarsView.as_view(), name="stock-symbol-bars"),
    path("stocks/<str:symbol>/bars/latest", SymbolLatestBarView.as_view(), name="stock-symbol-bar-latest"),
    path("stocks/<str:symbol>/quotes/latest", SymbolLatestQuoteView.as_view(), name="stock-symbol-quote-latest"),
    path("stocks/<str:symbol>/trades/latest", SymbolLatestTradeView.as_view(), name="stock-symbol-trade-latest"),
    path("stocks/<str:symbol>/snapshot", SymbolSnapshotView.as_view(), name="stock-symbol-snapshot"),
    path("stocks/<str:symbol>/indicators", IndicatorsView.as_view(), name="stock-symbol-indicators"),
]
