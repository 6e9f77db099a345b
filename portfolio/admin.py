from django.contrib import admin

from tradex.admin_tools import ReadOnlyAdmin

from .models import Position


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    """Positions move only when executions are applied (orders.services.execution_apply)."""

    list_display = ("account", "symbol", "qty", "avg_entry_price", "realized_pl", "held_qty", "updated_at")
    search_fields = ("symbol", "account__account_number", "account__user__username")
    list_select_related = ("account__user",)
    ordering = ("account", "symbol")
