"""/v2/alerts (TradeX extension): the caller's price alerts. Create, list, cancel.

Alerts are market data's (marketdata.models.PriceAlert, marketdata.services); their REST views are
here, above it, because they act for the caller's account (accounts.callers)."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.callers import caller_account
from core.api import (
    BODY_ERRORS,
    ERRORS,
    DecimalInputField,
    StrictCharField,
    TradeXAPIView,
    parse_body,
    parse_query,
)
from core.fields import PRICE
from marketdata.models import PriceAlert
from marketdata.services import alert_cancel, alert_create, alert_payload


class AlertSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    symbol = serializers.CharField()
    condition = serializers.ChoiceField(choices=PriceAlert.Condition.choices)
    source = serializers.ChoiceField(choices=PriceAlert.Source.choices, help_text="the price watched")
    price = serializers.CharField()
    status = serializers.ChoiceField(choices=PriceAlert.Status.choices)
    created_at = serializers.DateTimeField()
    triggered_at = serializers.DateTimeField(allow_null=True)
    triggered_price = serializers.CharField(allow_null=True)


class AlertCreateSerializer(serializers.Serializer):
    symbol = StrictCharField(max_length=16)
    condition = serializers.ChoiceField(choices=PriceAlert.Condition.choices)
    source = serializers.ChoiceField(choices=PriceAlert.Source.choices, required=False,
                                     help_text="the price watched: the last trade (default), the best bid or the best ask")
    price = DecimalInputField(limit=PRICE, help_text="decimal string, e.g. \"231.50\"")


class AlertQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=PriceAlert.Status.choices, required=False)


class AlertsView(TradeXAPIView):
    @extend_schema(operation_id="alerts_list", parameters=[AlertQuerySerializer],
                   responses={200: AlertSerializer(many=True), **ERRORS})
    def get(self, request):
        query = parse_query(AlertQuerySerializer, request)
        user = caller_account(request).user
        alerts = PriceAlert.objects.filter(user=user).order_by("-created_at")
        if "status" in query:
            alerts = alerts.filter(status=query["status"])
        return Response([alert_payload(a) for a in alerts[:500]])

    @extend_schema(operation_id="alerts_create", request=AlertCreateSerializer,
                   responses={200: AlertSerializer, **BODY_ERRORS})
    def post(self, request):
        body = parse_body(AlertCreateSerializer, request.data)
        alert = alert_create(user=caller_account(request).user, **body)
        return Response(alert_payload(alert))


class AlertDetailView(TradeXAPIView):
    @extend_schema(operation_id="alerts_cancel", responses={200: AlertSerializer, **ERRORS})
    def delete(self, request, alert_id):
        return Response(alert_payload(alert_cancel(user=caller_account(request).user, alert_id=alert_id)))
