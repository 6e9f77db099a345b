"""/v2/orders (Alpaca Trading API v2), TradeX's order audit trail and an order's tax lots."""
import uuid

from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.callers import caller_account, caller_actor
from core.api import BODY_ERRORS, ERRORS, StrictIntegerField, TradeXAPIView, parse_body, parse_query
from core.errors import NotFound

from .selectors import order_audit, order_get, order_get_by_client_id, order_list
from .serializers import (
    CancelResultSerializer,
    ClientOrderIdQuerySerializer,
    DryRunSerializer,
    OrderAuditSerializer,
    OrderCreateSerializer,
    OrderListQuerySerializer,
    OrderReplaceSerializer,
    OrderSerializer,
)
from .services import order_cancel, order_cancel_all, order_lots_select, order_place, order_preview, order_replace


def _result_body(status: int, order) -> dict:
    if order is not None:
        return OrderSerializer(order).data
    return {"code": status * 100000, "message": "the order could not be canceled"}


class OrdersView(TradeXAPIView):
    @extend_schema(
        operation_id="orders_create", request=OrderCreateSerializer,
        description='Place an order. With "dry_run": true (TradeX) every check runs and nothing is written.',
        responses={200: PolymorphicProxySerializer(component_name="OrderOrDryRun", resource_type_field_name=None,
                                                   serializers=[OrderSerializer, DryRunSerializer]), **BODY_ERRORS},
    )
    def post(self, request):
        body = parse_body(OrderCreateSerializer, request.data)
        dry_run = body.pop("dry_run", False)
        kwargs = dict(account_id=caller_account(request).pk, actor=caller_actor(request),
                      order_type=body.pop("type"), **body)
        if dry_run:
            return Response(DryRunSerializer(order_preview(**kwargs)).data)
        return Response(OrderSerializer(order_place(**kwargs)).data)

    @extend_schema(operation_id="orders_list", parameters=[OrderListQuerySerializer],
                   responses={200: OrderSerializer(many=True), **ERRORS})
    def get(self, request):
        query = parse_query(OrderListQuerySerializer, request)
        query.pop("nested", None)
        if "symbols" in query:
            query["symbols"] = [s.strip().upper() for s in query["symbols"].split(",") if s.strip()]
        orders = order_list(account=caller_account(request), **query)
        return Response(OrderSerializer(orders, many=True).data)

    @extend_schema(operation_id="orders_cancel_all", request=None,
                   responses={207: CancelResultSerializer(many=True), **ERRORS})
    def delete(self, request):
        results = order_cancel_all(account_id=caller_account(request).pk, actor=caller_actor(request))
        data = [{"id": str(order_id), "status": status, "body": _result_body(status, order)}
                for order_id, status, order in results]
        return Response(data, status=207)


class OrderDetailView(TradeXAPIView):
    @extend_schema(operation_id="orders_retrieve", responses={200: OrderSerializer, **ERRORS})
    def get(self, request, order_id: str):
        return Response(OrderSerializer(order_get(account=caller_account(request), order_id=order_id)).data)

    @extend_schema(operation_id="orders_replace", request=OrderReplaceSerializer,
                   responses={200: OpenApiResponse(OrderSerializer, description="the new order"), **BODY_ERRORS})
    def patch(self, request, order_id: str):
        body = parse_body(OrderReplaceSerializer, request.data)
        order = order_replace(account_id=caller_account(request).pk, order_id=order_id,
                              actor=caller_actor(request), **body)
        return Response(OrderSerializer(order).data)

    @extend_schema(operation_id="orders_cancel", request=None,
                   responses={204: OpenApiResponse(description="cancel requested"), **ERRORS})
    def delete(self, request, order_id: str):
        order_cancel(account_id=caller_account(request).pk, order_id=order_id, actor=caller_actor(request))
        return Response(status=204)


class OrderByClientIdView(TradeXAPIView):
    @extend_schema(operation_id="orders_by_client_order_id", parameters=[ClientOrderIdQuerySerializer],
                   responses={200: OrderSerializer, **ERRORS})
    def get(self, request):
        query = parse_query(ClientOrderIdQuerySerializer, request)
        order = order_get_by_client_id(account=caller_account(request), client_order_id=query["client_order_id"])
        return Response(OrderSerializer(order).data)


class OrderAuditView(TradeXAPIView):
    @extend_schema(operation_id="orders_audit", responses={200: OrderAuditSerializer, **ERRORS},
                   description="TradeX: the order's audit events in order, and whether the chain verifies.")
    def get(self, request, order_id: str):
        return Response(OrderAuditSerializer(order_audit(account=caller_account(request), order_id=order_id)).data)


class LotSelectionBody(serializers.Serializer):
    lot_ids = serializers.ListField(child=StrictIntegerField(min_value=1, max_value=2**63 - 1), allow_empty=False,
                                    max_length=1000)


class OrderLotsView(TradeXAPIView):
    @extend_schema(operation_id="order_lots_select", request=LotSelectionBody,
                   description="TradeX: specific-lot identification: the lots this closing order closes, in "
                               "this order, before FIFO takes over. Only before the order starts to fill.",
                   responses={200: LotSelectionBody, **BODY_ERRORS})
    def put(self, request, order_id: str):
        try:
            order_uuid = uuid.UUID(order_id)
        except ValueError:
            raise NotFound("order not found", reason="order_not_found") from None
        body = parse_body(LotSelectionBody, request.data)
        selection = order_lots_select(account_id=caller_account(request).pk, order_id=order_uuid,
                                      lot_ids=body["lot_ids"], actor=caller_actor(request))
        return Response({"lot_ids": selection.lot_ids})
