from django.contrib import admin

from compliance.admin_tools import ReadOnlyAdmin

from .models import Position


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    """Positions move only when executions are applied (orders.services.execution_apply)."""

    list_display = ("account", "symbol", "qty", "avg_entry_price", "realized_pl", "held_qty", "updated_at")
    search_fields = ("symbol", "account__account_number", "account__user__username")
    list_select_related = ("account__user",)
    ordering = ("account", "symbol")


from .models import MarginCall, ShortLocate, SymbolMargin  # noqa: E402


@admin.register(MarginCall)
class MarginCallAdmin(ReadOnlyAdmin):
    """Margin calls move only through workflows.margin_calls (issued, met, liquidated; audited)."""

    list_display = ("account", "status", "issued_at", "due_at", "equity", "requirement", "deficit", "resolved_at")
    list_filter = ("status",)
    ordering = ("-issued_at",)


@admin.register(SymbolMargin)
class SymbolMarginAdmin(admin.ModelAdmin):
    """House maintenance requirements stricter than TRADEX_MAINTENANCE for single symbols."""

    list_display = ("symbol", "maintenance", "note")
    search_fields = ("symbol",)


@admin.register(ShortLocate)
class ShortLocateAdmin(admin.ModelAdmin):
    """The hard-to-borrow list (load it daily with portfolio.services.short_locates_load). What
    open orders reserved moves only with those orders."""

    list_display = ("symbol", "shares_available", "shares_reserved", "as_of", "updated_at")
    readonly_fields = ("shares_reserved",)
    search_fields = ("symbol",)
