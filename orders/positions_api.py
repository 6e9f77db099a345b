"""/v2/positions (Alpaca Trading API v2): list, get and close positions. Closing places orders,
so the endpoints are orders'; what a position shows is portfolio's (portfolio.selectors.position_json,
documented by portfolio.api.PositionSerializer)."""
import orjson
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.callers import caller_account, caller_actor
from core.api import ERRORS, DecimalInputField, TradeXAPIView, parse_query
from core.errors import NotFound
from core.fields import CLOSE_PERCENTAGE, QTY
from marketdata.selectors import asset_by_symbol_or_id
from portfolio.api import PositionSerializer
from portfolio.selectors import position_json, position_valued, positions_valued

from .serializers import OrderSerializer
from .services import position_close, position_close_all


class ClosePositionQuerySerializer(serializers.Serializer):
    qty = DecimalInputField(limit=QTY, required=False, help_text="shares to sell (or buy back)")
    percentage = DecimalInputField(limit=CLOSE_PERCENTAGE, required=False, help_text="percent of the position, 0-100")


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
        body = orjson.dumps([position_json(v) for v in positions_valued(account=caller_account(request))])
        return HttpResponse(body, content_type="application/json")

    @extend_schema(operation_id="positions_close_all", request=None, parameters=[CloseAllQuerySerializer],
                   responses={207: ClosePositionResultSerializer(many=True), **ERRORS})
    def delete(self, request):
        query = parse_query(CloseAllQuerySerializer, request, strict=True)
        results = position_close_all(account_id=caller_account(request).pk, actor=caller_actor(request),
                                     cancel_orders=query["cancel_orders"])
        return Response([_close_result(*result) for result in results], status=207)


class PositionDetailView(TradeXAPIView):
    @extend_schema(operation_id="positions_retrieve", responses={200: PositionSerializer, **ERRORS})
    def get(self, request, symbol_or_asset_id: str):
        value = position_valued(account=caller_account(request), symbol_or_asset_id=symbol_or_asset_id)
        return Response(position_json(value))

    @extend_schema(operation_id="positions_close", request=None, parameters=[
        ClosePositionQuerySerializer,  # both are decimal strings:
        OpenApiParameter("qty", {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
                         description="shares to sell (or buy back)"),
        OpenApiParameter("percentage", {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
                         description="percent of the position, 0-100")],
                   responses={200: OrderSerializer, **ERRORS})
    def delete(self, request, symbol_or_asset_id: str):
        query = parse_query(ClosePositionQuerySerializer, request, strict=True)
        asset = asset_by_symbol_or_id(symbol_or_asset_id)
        if asset is None:
            raise NotFound(f"position does not exist: {symbol_or_asset_id}", reason="position_not_found")
        order = position_close(account_id=caller_account(request).pk, symbol=asset.symbol,
                               actor=caller_actor(request), **query)
        return Response(OrderSerializer(order).data)
