"""/v2/positions (Alpaca Trading API v2)."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from marketdata.selectors import asset_by_symbol_or_id
from orders.serializers import OrderSerializer
from orders.services import position_close, position_close_all
from tradex.api_support import ERRORS, DecimalString, TradeXAPIView, caller_account, caller_actor, parse_query
from tradex.errors import NotFound

from .selectors import position_valued, positions_valued


class PositionSerializer(serializers.Serializer):
    """alpaca-py's Position, from portfolio.selectors.PositionValue."""

    asset_id = serializers.UUIDField(source="position.asset_id")
    symbol = serializers.CharField(source="position.symbol")
    exchange = serializers.CharField(source="position.asset.exchange")
    asset_class = serializers.CharField(source="position.asset.asset_class")
    asset_marginable = serializers.BooleanField(source="position.asset.marginable")
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


class ClosePositionQuerySerializer(serializers.Serializer):
    qty = serializers.CharField(required=False, help_text="shares to sell (or buy back)")
    percentage = serializers.CharField(required=False, help_text="percent of the position, 0-100")


class CloseAllQuerySerializer(serializers.Serializer):
    cancel_orders = serializers.BooleanField(required=False, default=False)


class ClosePositionResultSerializer(serializers.Serializer):
    """One entry of DELETE /v2/positions (HTTP 207): alpaca-py's ClosePositionResponse."""

    symbol = serializers.CharField()
    status = serializers.IntegerField()
    order_id = serializers.UUIDField(allow_null=True)
    body = serializers.JSONField(help_text="the closing order, or an error object")


def _close_result(symbol: str, status: int, order) -> dict:
    if order is None:
        return {"symbol": symbol, "status": status, "order_id": None,
                "body": {"code": status * 100000, "message": "the position could not be closed", "symbol": symbol}}
    return {"symbol": symbol, "status": status, "order_id": str(order.pk), "body": OrderSerializer(order).data}


class PositionsView(TradeXAPIView):
    @extend_schema(operation_id="positions_list", responses={200: PositionSerializer(many=True), **ERRORS})
    def get(self, request):
        return Response(PositionSerializer(positions_valued(account=caller_account(request)), many=True).data)

    @extend_schema(operation_id="positions_close_all", request=None, parameters=[CloseAllQuerySerializer],
                   responses={207: ClosePositionResultSerializer(many=True), **ERRORS})
    def delete(self, request):
        query = parse_query(CloseAllQuerySerializer, request)
        results = position_close_all(account_id=caller_account(request).pk, actor=caller_actor(request),
                                     cancel_orders=query["cancel_orders"])
        return Response([_close_result(*result) for result in results], status=207)


class PositionDetailView(TradeXAPIView):
    @extend_schema(operation_id="positions_retrieve", responses={200: PositionSerializer, **ERRORS})
    def get(self, request, symbol_or_asset_id: str):
        value = position_valued(account=caller_account(request), symbol_or_asset_id=symbol_or_asset_id)
        return Response(PositionSerializer(value).data)

    @extend_schema(operation_id="positions_close", request=None, parameters=[ClosePositionQuerySerializer],
                   responses={200: OrderSerializer, **ERRORS})
    def delete(self, request, symbol_or_asset_id: str):
        query = parse_query(ClosePositionQuerySerializer, request)
        asset = asset_by_symbol_or_id(symbol_or_asset_id)
        if asset is None:
            raise NotFound(f"position does not exist: {symbol_or_asset_id}", reason="position_not_found")
        order = position_close(account_id=caller_account(request).pk, symbol=asset.symbol,
                               actor=caller_actor(request), **query)
        return Response(OrderSerializer(order).data)
