from django.contrib import admin

from compliance.admin_tools import AuditedAdmin

from .models import Asset


@admin.register(Asset)
class AssetAdmin(AuditedAdmin):
    """Staff edit reference data and trading flags; prices belong to the feed."""

    list_display = ("symbol", "name", "exchange", "status", "tradable", "marginable", "shortable", "easy_to_borrow",
                    "fractionable", "last_price", "prev_close")
    list_filter = ("exchange", "status", "tradable", "marginable", "shortable", "easy_to_borrow", "asset_class")
    search_fields = ("symbol", "name")
    ordering = ("symbol",)
    readonly_fields = ("id", "last_price", "prev_close")

    def has_delete_permission(self, request, obj=None):
        return False  # orders and positions reference assets (PROTECT); deactivate with status instead
