"""Historical trades and quotes from the tick store (Alpaca Market Data v2), so alpaca-py's
StockHistoricalDataClient.get_stock_trades / get_stock_quotes work:

    GET /v2/stocks/trades?symbols=A,B&start&end&limit&page_token&sort    (and /v2/stocks/{symbol}/trades)
    GET /v2/stocks/quotes?symbols=A,B&...                                 (and /v2/stocks/{symbol}/quotes)

Parameters and errors as for bars (marketdata/api/stocks.py); `limit` counts rows over all symbols,
1..10000. The tick store keeps TRADEX_TICK_RETENTION_DAYS days."""
import json

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema

from core.api import ERRORS, TradeXAPIView

from .stocks import (
    COMMON_PARAMS,
    SYMBOLS_PARAM,
    _choice,
    _common,
    _json,
    _limit,
    _one_symbol,
    _range,
    _symbols_param,
    _token,
    choice_param,
    limit_param,
    quote_json,
    trade_json,
)
from ..ticks.query import MAX_LIMIT, ticks_page

TICK_PARAMS = [
    OpenApiParameter("start", OpenApiTypes.DATETIME, description="RFC 3339 or YYYY-MM-DD, inclusive; default: "
                     "the start of the current New York day"),
    OpenApiParameter("end", OpenApiTypes.DATETIME, description="inclusive; default now"),
    limit_param(MAX_LIMIT, f"1..{MAX_LIMIT} rows over all symbols, default 1000"),
    OpenApiParameter("page_token", str, description="next_page_token of the previous page"),
    choice_param("sort", {"asc", "desc"}), *COMMON_PARAMS, OpenApiParameter("asof", str),
]
_ROW_JSON = {"trades": trade_json, "quotes": quote_json}


def _page(kind: str, params, symbols: list[str]):
    _common(params)
    start, end = _range(params)
    desc = _choice(params, "sort", {"asc", "desc"}, "asc") == "desc"
    return ticks_page(kind=kind, symbols=symbols, start=start, end=end, limit=_limit(params, maximum=MAX_LIMIT),
                      desc=desc, page_token=params.get("page_token") or None)


def _multi(kind: str, request):
    rows, token = _page(kind, request.query_params, _symbols_param(request.query_params))
    to_json = _ROW_JSON[kind]
    body = ",".join(f'{json.dumps(s)}:[{",".join(to_json(r) for r in rs)}]' for s, rs in rows.items())
    return _json(f'{{"{kind}":{{{body}}},"next_page_token":{_token(token)},"currency":"USD"}}')


def _single(kind: str, request, symbol: str):
    symbol = _one_symbol(symbol)
    rows, token = _page(kind, request.query_params, [symbol])
    body = ",".join(_ROW_JSON[kind](r) for r in rows.get(symbol, []))
    return _json(f'{{"{kind}":[{body}],"symbol":{json.dumps(symbol)},"next_page_token":{_token(token)},'
                 f'"currency":"USD"}}')


MULTI = [SYMBOLS_PARAM, *TICK_PARAMS]


class TradesView(TradeXAPIView):
    @extend_schema(operation_id="stock_trades", parameters=MULTI, responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request):
        return _multi("trades", request)


class QuotesView(TradeXAPIView):
    @extend_schema(operation_id="stock_quotes", parameters=MULTI, responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request):
        return _multi("quotes", request)


class SymbolTradesView(TradeXAPIView):
    @extend_schema(operation_id="stock_symbol_trades", parameters=TICK_PARAMS,
                   responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request, symbol: str):
        return _single("trades", request, symbol)


class SymbolQuotesView(TradeXAPIView):
    @extend_schema(operation_id="stock_symbol_quotes", parameters=TICK_PARAMS,
                   responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request, symbol: str):
        return _single("quotes", request, symbol)


from django.urls import path  # noqa: E402

ticks_urlpatterns = [
    path("stocks/trades", TradesView.as_view(), name="stock-trades"),
    path("stocks/quotes", QuotesView.as_view(), name="stock-quotes"),
    path("stocks/<str:symbol>/trades", SymbolTradesView.as_view(), name="stock-symbol-trades"),
    path("stocks/<str:symbol>/quotes", SymbolQuotesView.as_view(), name="stock-symbol-quotes"),
]
