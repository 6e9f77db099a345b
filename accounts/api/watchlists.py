"""/v2/watchlists (Alpaca Trading API v2): what alpaca-py's TradingClient watchlist calls send.

    GET    /v2/watchlists                    the account's lists (without assets)
    POST   /v2/watchlists                    {"name", "symbols": [...]}
    GET    /v2/watchlists/{id}               one list with its assets, in order
    PUT    /v2/watchlists/{id}               {"name"?, "symbols"?}: rename and/or replace the assets
    POST   /v2/watchlists/{id}               {"symbol"}: append an asset
    DELETE /v2/watchlists/{id}               204
    DELETE /v2/watchlists/{id}/{symbol}      the list without that asset
"""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from marketdata.api.assets import AssetSerializer
from accounts.callers import caller_account
from core.api import BODY_ERRORS, ERRORS, StrictCharField, TradeXAPIView, parse_body

from ..watchlists import (
    watchlist_add_asset,
    watchlist_create,
    watchlist_delete,
    watchlist_get,
    watchlist_list,
    watchlist_remove_asset,
    watchlist_update,
)


class WatchlistSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    account_id = serializers.UUIDField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class WatchlistDetailSerializer(WatchlistSerializer):
    assets = AssetSerializer(many=True, source="asset_list")


class WatchlistCreateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=64)
    symbols = serializers.ListField(child=StrictCharField(max_length=16), required=False, max_length=200)


class WatchlistUpdateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=64, required=False)
    symbols = serializers.ListField(child=StrictCharField(max_length=16), required=False, max_length=200)


class WatchlistAddSerializer(serializers.Serializer):
    symbol = StrictCharField(max_length=16)


def _detail(request, watchlist_id) -> Response:
    return Response(WatchlistDetailSerializer(watchlist_get(account=caller_account(request),
                                                            watchlist_id=watchlist_id)).data)


class WatchlistsView(TradeXAPIView):
    @extend_schema(operation_id="watchlists_list", responses={200: WatchlistSerializer(many=True), **ERRORS})
    def get(self, request):
        return Response(WatchlistSerializer(watchlist_list(account=caller_account(request)), many=True).data)

    @extend_schema(operation_id="watchlists_create", request=WatchlistCreateSerializer,
                   responses={200: WatchlistDetailSerializer, **BODY_ERRORS})
    def post(self, request):
        body = parse_body(WatchlistCreateSerializer, request.data)
        watchlist = watchlist_create(account=caller_account(request), **body)
        return _detail(request, watchlist.pk)


class WatchlistDetailView(TradeXAPIView):
    @extend_schema(operation_id="watchlists_retrieve", responses={200: WatchlistDetailSerializer, **ERRORS})
    def get(self, request, watchlist_id: str):
        return _detail(request, watchlist_id)

    @extend_schema(operation_id="watchlists_update", request=WatchlistUpdateSerializer,
                   responses={200: WatchlistDetailSerializer, **BODY_ERRORS})
    def put(self, request, watchlist_id: str):
        body = parse_body(WatchlistUpdateSerializer, request.data)
        watchlist_update(account=caller_account(request), watchlist_id=watchlist_id, **body)
        return _detail(request, watchlist_id)

    @extend_schema(operation_id="watchlists_add_asset", request=WatchlistAddSerializer,
                   responses={200: WatchlistDetailSerializer, **BODY_ERRORS})
    def post(self, request, watchlist_id: str):
        body = parse_body(WatchlistAddSerializer, request.data)
        watchlist_add_asset(account=caller_account(request), watchlist_id=watchlist_id, symbol=body["symbol"])
        return _detail(request, watchlist_id)

    @extend_schema(operation_id="watchlists_delete", request=None,
                   responses={204: OpenApiResponse(description="deleted"), **ERRORS})
    def delete(self, request, watchlist_id: str):
        watchlist_delete(account=caller_account(request), watchlist_id=watchlist_id)
        return Response(status=204)


class WatchlistAssetView(TradeXAPIView):
    @extend_schema(operation_id="watchlists_remove_asset", request=None,
                   responses={200: WatchlistDetailSerializer, **ERRORS})
    def delete(self, request, watchlist_id: str, symbol: str):
        watchlist_remove_asset(account=caller_account(request), watchlist_id=watchlist_id, symbol=symbol)
        return _detail(request, watchlist_id)
