"""/v2/assets, /v2/clock, /v2/calendar (Alpaca Trading API v2)."""
from decimal import Decimal

from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from core.api import ERRORS, TradeXAPIView, dec_str, parse_query
from core.errors import NotFound

from .. import clock
from ..calendar import NEW_YORK, sessions
from ..models import Asset
from ..selectors import asset_by_symbol_or_id, asset_list


class AssetSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    # Alpaca's key is "class", a Python keyword: declared through the class namespace.
    locals()["class"] = serializers.CharField(source="asset_class")
    exchange = serializers.CharField()
    symbol = serializers.CharField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=Asset.Status.choices)
    tradable = serializers.BooleanField()
    marginable = serializers.BooleanField()
    shortable = serializers.BooleanField()
    easy_to_borrow = serializers.BooleanField()
    fractionable = serializers.BooleanField()
    maintenance_margin_requirement = serializers.SerializerMethodField(help_text="percent of market value")
    attributes = serializers.SerializerMethodField()

    def get_maintenance_margin_requirement(self, asset) -> str:
        return dec_str(settings.TRADEX_MAINTENANCE * 100 if asset.marginable else Decimal(100))

    def get_attributes(self, asset) -> list[str]:
        return []


class AssetQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Asset.Status.choices, required=False)
    asset_class = serializers.CharField(required=False)
    exchange = serializers.CharField(required=False)
    attributes = serializers.CharField(required=False, help_text="accepted; TradeX assets carry no attributes")


class AssetListView(TradeXAPIView):
    @extend_schema(operation_id="assets_list", parameters=[AssetQuerySerializer],
                   responses={200: AssetSerializer(many=True), **ERRORS})
    def get(self, request):
        query = parse_query(AssetQuerySerializer, request)
        query.pop("attributes", None)
        return Response(AssetSerializer(asset_list(**query), many=True).data)


class AssetDetailView(TradeXAPIView):
    @extend_schema(operation_id="assets_retrieve", responses={200: AssetSerializer, **ERRORS})
    def get(self, request, symbol_or_id: str):
        asset = asset_by_symbol_or_id(symbol_or_id)
        if asset is None:
            raise NotFound(f"asset not found for {symbol_or_id}")
        return Response(AssetSerializer(asset).data)


class ClockSerializer(serializers.Serializer):
    # Alpaca reports the clock in New York time, offsets included.
    timestamp = serializers.DateTimeField(default_timezone=NEW_YORK)
    is_open = serializers.BooleanField()
    next_open = serializers.DateTimeField(default_timezone=NEW_YORK)
    next_close = serializers.DateTimeField(default_timezone=NEW_YORK)


class ClockView(TradeXAPIView):
    @extend_schema(operation_id="clock_retrieve", responses={200: ClockSerializer, **ERRORS},
                   description="The session clock (TRADEX_MARKET_CLOCK): the real NYSE regular session, or, in "
                               "the always_open demo mode, open with next_close at the coming New York midnight.")
    def get(self, request):
        return Response(ClockSerializer(clock.market_clock(clock.now())).data)


@extend_schema_field({"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "example": "09:30"})
class ClockTimeField(serializers.DateTimeField):
    """A New York wall-clock time, HH:MM (Alpaca's calendar), not a date-time."""


@extend_schema_field({"type": "string", "pattern": "^([01][0-9]|2[0-3])[0-5][0-9]$", "example": "0400"})
class CompactClockTimeField(serializers.DateTimeField):
    """A New York wall-clock time, HHMM (Alpaca's session_open / session_close)."""


class CalendarSerializer(serializers.Serializer):
    date = serializers.DateField()
    open = ClockTimeField(format="%H:%M", default_timezone=NEW_YORK, help_text="HH:MM, New York")
    close = ClockTimeField(format="%H:%M", default_timezone=NEW_YORK, help_text="HH:MM, New York")
    session_open = CompactClockTimeField(format="%H%M", default_timezone=NEW_YORK,
                                         help_text="HHMM, extended hours start")
    session_close = CompactClockTimeField(format="%H%M", default_timezone=NEW_YORK,
                                          help_text="HHMM, extended hours end")


class CalendarQuerySerializer(serializers.Serializer):
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)


class CalendarView(TradeXAPIView):
    @extend_schema(operation_id="calendar_list", parameters=[CalendarQuerySerializer],
                   responses={200: CalendarSerializer(many=True), **ERRORS})
    def get(self, request):
        query = parse_query(CalendarQuerySerializer, request)
        return Response(CalendarSerializer(sessions(query.get("start"), query.get("end")), many=True).data)
