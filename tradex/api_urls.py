"""The Alpaca-compatible Trading API v2, mounted at /v2/."""
from django.urls import path, re_path
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny

from accounts.api.account import TransfersView
from accounts.api.alerts import AlertDetailView, AlertsView
from accounts.api.watchlists import (
    WatchlistAssetView,
    WatchlistDetailView,
    WatchlistsView,
)
from core.errors import NotFound
from marketdata.api.assets import (
    AssetDetailView,
    AssetListView,
    CalendarView,
    ClockView,
)
from marketdata.api.stocks import stocks_urlpatterns
from marketdata.api.ticks import ticks_urlpatterns
from orders.activities_api import ActivitiesByTypeView, ActivitiesView
from orders.api import (
    OrderAuditView,
    OrderByClientIdView,
    OrderDetailView,
    OrderLotsView,
    OrdersView,
)
from orders.positions_api import PositionDetailView
from portfolio.api import (
    MarginCallsView,
    PortfolioHistoryView,
    PositionLotsView,
    RealizedLotsView,
)
from workflows.api import AccountAsOfView, PositionsAsOfView
from settlement.api import (
    AccountSettlementView,
    DocumentDetailView,
    DocumentDownloadView,
    DocumentsView,
)


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
@permission_classes([AllowAny])
def unknown_endpoint(request, rest):
    # A JSON 404 like every other API error, not Django's HTML page.
    raise NotFound(f"no endpoint at /v2/{rest}", reason="unknown_endpoint")


urlpatterns = [
    path("account", AccountAsOfView.as_view(), name="account"),
    path("account/transfers", TransfersView.as_view(), name="account-transfers"),
    path("account/settlement", AccountSettlementView.as_view(), name="account-settlement"),
    path("account/activities", ActivitiesView.as_view(), name="account-activities"),
    path("account/activities/<str:activity_type>", ActivitiesByTypeView.as_view(), name="account-activities-by-type"),
    path("orders", OrdersView.as_view(), name="orders"),
    path("orders:by_client_order_id", OrderByClientIdView.as_view(), name="order-by-client-id"),
    path("orders/<str:order_id>", OrderDetailView.as_view(), name="order"),
    path("orders/<str:order_id>/audit", OrderAuditView.as_view(), name="order-audit"),
    path("positions", PositionsAsOfView.as_view(), name="positions"),
    path("positions/<str:symbol_or_asset_id>", PositionDetailView.as_view(), name="position"),
    path("assets", AssetListView.as_view(), name="assets"),
    path("assets/<path:symbol_or_id>", AssetDetailView.as_view(), name="asset"),
    path("clock", ClockView.as_view(), name="clock"),
    path("documents", DocumentsView.as_view(), name="documents"),
    path("documents/<str:document_id>", DocumentDetailView.as_view(), name="document"),
    path("documents/<str:document_id>/download", DocumentDownloadView.as_view(), name="document-download"),
    path("calendar", CalendarView.as_view(), name="calendar"),
    path("alerts", AlertsView.as_view(), name="alerts"),
    path("alerts/<uuid:alert_id>", AlertDetailView.as_view(), name="alert"),
    *stocks_urlpatterns,  # market data v2: /v2/stocks/...
    *ticks_urlpatterns,  # historical trades and quotes from the tick store
    path("account/portfolio/history", PortfolioHistoryView.as_view(), name="account-portfolio-history"),
    path("account/tax_lots/realized", RealizedLotsView.as_view(), name="account-realized-lots"),
    path("account/margin_calls", MarginCallsView.as_view(), name="account-margin-calls"),
    path("positions/<str:symbol>/lots", PositionLotsView.as_view(), name="position-lots"),
    path("orders/<str:order_id>/lots", OrderLotsView.as_view(), name="order-lots"),
    path("watchlists", WatchlistsView.as_view(), name="watchlists"),
    path("watchlists/<str:watchlist_id>", WatchlistDetailView.as_view(), name="watchlist"),
    path("watchlists/<str:watchlist_id>/<path:symbol>", WatchlistAssetView.as_view(), name="watchlist-asset"),
    re_path(r"^(?P<rest>.*)$", unknown_endpoint),
]
