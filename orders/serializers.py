"""Order JSON in Alpaca v2's shape (what alpaca-py's Order model parses), and the request bodies
and query strings the order endpoints accept."""
from datetime import datetime
from uuid import UUID

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import (
    DecimalInputField,
    DecimalString,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    dec_str,
)
from core.fields import NOTIONAL, PERCENT, PRICE, QTY

from .models import Order
from .state import Status


class OrderSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    client_order_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    # alpaca-py requires submitted_at: an order without one shows its creation time.
    submitted_at = serializers.SerializerMethodField()
    filled_at = serializers.DateTimeField(allow_null=True)
    expired_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.SerializerMethodField()
    canceled_at = serializers.DateTimeField(allow_null=True)
    failed_at = serializers.DateTimeField(allow_null=True)
    replaced_at = serializers.DateTimeField(allow_null=True)
    replaced_by = serializers.SerializerMethodField()
    replaces = serializers.UUIDField(source="replaces_id", allow_null=True)
    asset_id = serializers.UUIDField()
    symbol = serializers.CharField()
    asset_class = serializers.CharField(source="asset.asset_class")
    notional = DecimalString(allow_null=True)
    qty = DecimalString(source="alpaca_qty", allow_null=True)
    filled_qty = DecimalString()
    filled_avg_price = DecimalString(allow_null=True)
    order_class = serializers.ChoiceField(choices=Order.OrderClass.choices)
    order_type = serializers.CharField(help_text="the same as type (Alpaca keeps both)")
    type = serializers.ChoiceField(source="order_type", choices=Order.Type.choices)
    side = serializers.ChoiceField(choices=Order.Side.choices)
    time_in_force = serializers.ChoiceField(choices=Order.TimeInForce.choices)
    limit_price = DecimalString(allow_null=True)
    stop_price = DecimalString(allow_null=True)
    status = serializers.ChoiceField(choices=Status.choices)
    extended_hours = serializers.BooleanField()
    legs = serializers.SerializerMethodField()
    trail_percent = DecimalString(allow_null=True)
    trail_price = DecimalString(allow_null=True)
    hwm = serializers.SerializerMethodField()
    position_intent = serializers.SerializerMethodField()
    reject_reason = serializers.SerializerMethodField(help_text="TradeX: why the order was rejected")
    hold_reason = serializers.SerializerMethodField(
        help_text="TradeX: why an order held by the broker (stop, opg/cls, leg, queued while the market is closed) "
                  "has not gone to a venue yet")
    triggered_at = serializers.DateTimeField(allow_null=True, help_text="TradeX: when a stop's trigger price was reached")
    trigger_price = DecimalString(allow_null=True, help_text="TradeX: the last trade that triggered the stop")

    def get_submitted_at(self, order) -> datetime:
        return serializers.DateTimeField().to_representation(order.submitted_at or order.created_at)

    def get_expires_at(self, order) -> datetime | None:
        return None

    def get_replaced_by(self, order) -> UUID | None:
        # The reverse one-to-one costs a query; only an order being or already replaced has one
        # (selectors select_related it, so lists stay one query).
        if order.status not in (Status.PENDING_REPLACE, Status.REPLACED):
            return None
        try:
            return str(order.replaced_by.pk)
        except Order.DoesNotExist:
            return None

    def get_legs(self, order) -> list[dict] | None:
        """A bracket/OTO entry's legs, an OCO's stop leg (Alpaca nests them under the parent).
        Simple orders and legs themselves have none, and cost no query."""
        if order.order_class == Order.OrderClass.SIMPLE or order.parent_id is not None:
            return None
        return OrderSerializer(order.legs.select_related("asset").order_by("created_at", "id"), many=True).data

    def get_hwm(self, order) -> str | None:
        return dec_str(order.hwm) if order.order_type == Order.Type.TRAILING_STOP and order.hwm is not None else None

    def get_position_intent(self, order) -> str | None:
        return None

    def get_reject_reason(self, order) -> str | None:
        return order.reject_reason or None

    def get_hold_reason(self, order) -> str | None:
        return order.hold_reason or None


# Legs are orders: the schema names the same component, recursively.
OrderSerializer.get_legs = extend_schema_field(OrderSerializer(many=True, allow_null=True))(OrderSerializer.get_legs)


class TakeProfitSerializer(serializers.Serializer):
    limit_price = DecimalInputField(limit=PRICE, help_text="the take-profit limit price")


class StopLossSerializer(serializers.Serializer):
    stop_price = DecimalInputField(limit=PRICE, required=False, help_text="stop leg: its stop price")
    limit_price = DecimalInputField(limit=PRICE, required=False, help_text="with stop_price: a stop-limit leg")
    trail_price = DecimalInputField(limit=PRICE, required=False, help_text="TradeX: a trailing-stop leg, trailing by this amount")
    trail_percent = DecimalInputField(limit=PERCENT, required=False, help_text="TradeX: a trailing-stop leg, trailing by this percent")


@extend_schema_field(TakeProfitSerializer)
class TakeProfitField(serializers.Field):
    """Passed to the service as the client sent it: the service validates it (and refuses unknown keys)."""

    def to_internal_value(self, data):
        return data


@extend_schema_field(StopLossSerializer)
class StopLossField(TakeProfitField):
    pass


class OrderCreateSerializer(serializers.Serializer):
    """POST /v2/orders: Alpaca's body (simple orders and the bracket/oco/oto order classes), plus
    TradeX's dry_run and trailing-stop stop_loss legs."""

    symbol = StrictCharField(max_length=16)
    side = serializers.ChoiceField(choices=Order.Side.choices)
    type = serializers.ChoiceField(choices=Order.Type.choices)
    time_in_force = serializers.ChoiceField(choices=Order.TimeInForce.choices)
    qty = DecimalInputField(limit=QTY, required=False, allow_null=True)
    notional = DecimalInputField(limit=NOTIONAL, required=False, allow_null=True)
    limit_price = DecimalInputField(limit=PRICE, required=False, allow_null=True)
    stop_price = DecimalInputField(limit=PRICE, required=False, allow_null=True)
    trail_price = DecimalInputField(limit=PRICE, required=False, allow_null=True)
    trail_percent = DecimalInputField(limit=PERCENT, required=False, allow_null=True)
    extended_hours = StrictBooleanField(required=False, allow_null=True)
    client_order_id = StrictCharField(required=False, allow_null=True, max_length=128)
    order_class = serializers.ChoiceField(choices=Order.OrderClass.choices, required=False, allow_null=True)
    take_profit = TakeProfitField(required=False, allow_null=True,
                                  help_text="bracket, oco, oto: the take-profit limit leg (for oco, the order itself)")
    stop_loss = StopLossField(required=False, allow_null=True,
                              help_text="bracket, oco, oto: the stop-loss leg (stop, stop-limit, or TradeX trailing stop)")
    dry_run = StrictBooleanField(required=False, allow_null=True,
                                 help_text="TradeX: run every check and report, write nothing")


class OrderReplaceSerializer(serializers.Serializer):
    """PATCH /v2/orders/{id}."""

    qty = DecimalInputField(limit=QTY, required=False, allow_null=True)
    limit_price = DecimalInputField(limit=PRICE, required=False, allow_null=True)
    stop_price = DecimalInputField(limit=PRICE, required=False, allow_null=True)
    trail = DecimalInputField(limit=PRICE, required=False, allow_null=True)
    time_in_force = serializers.ChoiceField(choices=Order.TimeInForce.choices, required=False, allow_null=True)
    client_order_id = StrictCharField(required=False, allow_null=True, max_length=128)


class OrderListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["open", "closed", "all"], default="open")
    limit = StrictIntegerField(min_value=1, max_value=500, default=50)
    after = serializers.DateTimeField(required=False, help_text="only orders submitted after this time")
    until = serializers.DateTimeField(required=False, help_text="only orders submitted until this time")
    direction = serializers.ChoiceField(choices=["asc", "desc"], default="desc")
    nested = serializers.BooleanField(required=False, help_text="accepted; a parent always carries its legs, "
                                                                "and legs are also listed as orders")
    symbols = serializers.CharField(required=False, help_text="comma-separated symbols")
    side = serializers.ChoiceField(choices=Order.Side.choices, required=False)


class ClientOrderIdQuerySerializer(serializers.Serializer):
    client_order_id = serializers.CharField(max_length=128)


class DryRunRefusalSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class DryRunSerializer(serializers.Serializer):
    """TradeX: what POST /v2/orders with "dry_run": true answers (risk.verdict.Verdict)."""

    dry_run = serializers.SerializerMethodField()
    accepted = serializers.BooleanField()
    refusals = DryRunRefusalSerializer(many=True)
    buying_power = DecimalString()
    buying_power_after = DecimalString()
    reservation = DecimalString(source="reservation.cash", allow_null=True,
                                help_text="cash (margin: initial margin) the order would hold")
    estimated_notional = DecimalString(allow_null=True)

    def get_dry_run(self, verdict) -> bool:
        return True


class CancelResultSerializer(serializers.Serializer):
    """One entry of DELETE /v2/orders (HTTP 207): alpaca-py's CancelOrderResponse."""

    id = serializers.UUIDField()
    status = serializers.IntegerField()
    body = serializers.JSONField(allow_null=True, help_text="the order, or an error object")


class AuditEventSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    actor = serializers.CharField()
    action = serializers.CharField()
    data = serializers.JSONField()
    hash = serializers.CharField()
    prev_hash = serializers.CharField()


class OrderAuditSerializer(serializers.Serializer):
    """TradeX: an order's journey through the hash-chained audit trail."""

    order_id = serializers.UUIDField()
    verified = serializers.BooleanField(help_text="the account's audit chain recomputes without a break")
    events = AuditEventSerializer(many=True)
