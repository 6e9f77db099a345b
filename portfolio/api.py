"""/v2/account and /v2/account/portfolio/history (Alpaca Trading API v2); tax lots and margin calls
(TradeX); the schema of a position (the /v2/positions endpoints close positions by placing orders:
they are orders', orders.positions_api, as is choosing an order's lots, orders.api.OrderLotsView)."""
import json

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.callers import caller_account
from core.api import (
    ERRORS,
    DecimalString,
    StrictIntegerField,
    TradeXAPIView,
    dec_str,
    parse_query,
)
from core.values import money

from .account_json import TradeAccountSerializer, account_json
from .history import TIMEFRAMES, portfolio_history
from .models import LotClosure, MarginCall, TaxLot
from .selectors import account_snapshot


class AccountView(TradeXAPIView):
    @extend_schema(operation_id="account_retrieve", responses={200: TradeAccountSerializer, **ERRORS})
    def get(self, request):
        return Response(account_json(account_snapshot(account=caller_account(request))))


class PositionSerializer(serializers.Serializer):
    """alpaca-py's Position, from portfolio.selectors.PositionValue: the schema of what
    selectors.position_json writes (the views use that function: it is ten times faster)."""

    asset_id = serializers.UUIDField(source="position.asset_id")
    symbol = serializers.CharField(source="position.symbol")
    exchange = serializers.CharField(source="position.exchange")
    asset_class = serializers.CharField(source="position.asset_class")
    asset_marginable = serializers.BooleanField(source="position.marginable")
    avg_entry_price = DecimalString(source="position.avg_entry_price")
    qty = DecimalString(source="position.qty")
    qty_available = DecimalString()
    side = serializers.ChoiceField(choices=["long", "short"])
    market_value = DecimalString()
    cost_basis = DecimalString()
    unrealized_pl = DecimalString()
    unrealized_plpc = DecimalString()
    unrealized_intraday_pl = DecimalString()
    unrealized_intraday_plpc = DecimalString()
    current_price = DecimalString(allow_null=True, help_text="null until the symbol has a price")
    lastday_price = DecimalString(allow_null=True)
    change_today = DecimalString()
    realized_pl = DecimalString(source="position.realized_pl", help_text="TradeX: realized P&L of this position")


# --- portfolio history, tax lots (TradeX extensions beside Alpaca's) ------------------------------

class HistoryQuerySerializer(serializers.Serializer):
    period = serializers.CharField(required=False, help_text="number + D/W/M/A, e.g. 1D, 1W, 1M, 1A (default 1M)")
    timeframe = serializers.CharField(required=False, help_text="1Min, 5Min, 15Min, 1H or 1D")
    date_end = serializers.CharField(required=False, help_text="YYYY-MM-DD (default: now)")
    extended_hours = serializers.CharField(required=False, help_text="accepted for compatibility")
    intraday_reporting = serializers.CharField(required=False, help_text="accepted for compatibility")
    pnl_reset = serializers.CharField(required=False, help_text="accepted for compatibility")


class HistorySerializer(serializers.Serializer):
    timestamp = serializers.ListField(child=serializers.IntegerField())
    equity = serializers.ListField(child=serializers.DecimalField(max_digits=20, decimal_places=2))
    profit_loss = serializers.ListField(child=serializers.DecimalField(max_digits=20, decimal_places=2))
    profit_loss_pct = serializers.ListField(child=serializers.DecimalField(max_digits=20, decimal_places=6,
                                                                           allow_null=True))
    base_value = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    timeframe = serializers.CharField()


def _numbers(values) -> str:
    """A JSON array of exact decimal numbers (Alpaca sends numbers here; no float in between)."""
    return "[" + ",".join("null" if v is None else dec_str(v) for v in values) + "]"


class PortfolioHistoryView(TradeXAPIView):
    @extend_schema(operation_id="account_portfolio_history", parameters=[
        HistoryQuerySerializer,  # and what portfolio.history accepts of its period and timeframe:
        OpenApiParameter("period", {"type": "string", "pattern": r"^[1-9][0-9]{0,3}[DWMA]$"},
                         description="number + D/W/M/A, e.g. 1D, 1W, 1M, 1A (default 1M)"),
        OpenApiParameter("timeframe", str, enum=list(TIMEFRAMES), description="default: by period"),
        OpenApiParameter("date_end", OpenApiTypes.DATE, description="YYYY-MM-DD (default: now)")],
                   description="Alpaca's portfolio history, from the equity snapshots Celery records.",
                   responses={200: HistorySerializer, **ERRORS})
    def get(self, request):
        query = parse_query(HistoryQuerySerializer, request)
        history = portfolio_history(account=caller_account(request), period=query.get("period"),
                                    timeframe=query.get("timeframe"), date_end=query.get("date_end"))
        body = (f'{{"timestamp":{json.dumps(history.timestamp)},"equity":{_numbers(history.equity)},'
                f'"profit_loss":{_numbers(history.profit_loss)},"profit_loss_pct":{_numbers(history.profit_loss_pct)},'
                f'"base_value":{"null" if history.base_value is None else dec_str(history.base_value)},'
                f'"timeframe":{json.dumps(history.timeframe)}}}')
        return HttpResponse(body, content_type="application/json")


class TaxLotSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    symbol = serializers.CharField()
    side = serializers.CharField()
    opened_at = serializers.DateTimeField()
    qty = DecimalString()
    remaining_qty = DecimalString()
    price = DecimalString()
    cost_basis = serializers.SerializerMethodField()
    wash_sale_adjustment = DecimalString()
    order_id = serializers.UUIDField(allow_null=True)

    def get_cost_basis(self, lot) -> str:
        return dec_str(money(lot.remaining_qty * lot.price))


class LotClosureSerializer(serializers.Serializer):
    lot_id = serializers.IntegerField()
    symbol = serializers.CharField()
    side = serializers.CharField()
    qty = DecimalString()
    open_price = DecimalString()
    close_price = DecimalString()
    opened_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField()
    realized_pl = DecimalString()
    wash_sale = serializers.BooleanField()
    wash_sale_disallowed = DecimalString()
    order_id = serializers.UUIDField(allow_null=True)


class PositionLotsView(TradeXAPIView):
    @extend_schema(operation_id="position_lots", description="TradeX: the position's open tax lots, oldest first.",
                   responses={200: TaxLotSerializer(many=True), **ERRORS})
    def get(self, request, symbol: str):
        lots = TaxLot.objects.filter(account=caller_account(request), symbol=symbol.upper(),
                                     remaining_qty__gt=0).order_by("opened_at", "id")
        return Response(TaxLotSerializer(lots, many=True).data)


class RealizedLotsQuery(serializers.Serializer):
    year = StrictIntegerField(min_value=1970, max_value=9999)


class RealizedLotsView(TradeXAPIView):
    @extend_schema(operation_id="account_realized_lots", parameters=[RealizedLotsQuery],
                   description="TradeX: the year-end report: realized P&L per lot closed in the year, wash sales "
                               "flagged with the disallowed loss.",
                   responses={200: LotClosureSerializer(many=True), **ERRORS})
    def get(self, request):
        year = parse_query(RealizedLotsQuery, request)["year"]
        closures = LotClosure.objects.filter(account=caller_account(request), closed_at__year=year) \
            .order_by("closed_at", "id")
        return Response(LotClosureSerializer(closures, many=True).data)


class MarginCallSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    issued_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    equity = DecimalString()
    requirement = DecimalString()
    deficit = DecimalString()
    liquidation = serializers.JSONField(help_text="[{round, symbol, side, qty, order_id}]")


class MarginCallsView(TradeXAPIView):
    @extend_schema(operation_id="account_margin_calls", description="TradeX: the account's margin calls, newest first.",
                   responses={200: MarginCallSerializer(many=True), **ERRORS})
    def get(self, request):
        calls = MarginCall.objects.filter(account=caller_account(request)).order_by("-issued_at")[:100]
        return Response(MarginCallSerializer(calls, many=True).data)
