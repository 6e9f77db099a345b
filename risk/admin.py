from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone

from tradex.admin_tools import AuditedAdmin, ReadOnlyAdmin

from .models import DayTradeCount, RiskLimits, TradingHalt


@admin.register(RiskLimits)
class RiskLimitsAdmin(AuditedAdmin):
    list_display = ("account", "max_order_notional", "max_order_qty", "max_position_qty", "max_concentration",
                    "max_open_orders_per_symbol")
    search_fields = ("account__account_number", "account__user__username")
    list_select_related = ("account__user",)
    raw_id_fields = ("account",)


@admin.register(TradingHalt)
class TradingHaltAdmin(AuditedAdmin):
    """A halt with a blank symbol stops all trading (the kill switch). Halts are history: lift one
    instead of deleting it."""

    list_display = ("__str__", "symbol", "reason", "created_at", "lifted_at")
    list_filter = (("lifted_at", admin.EmptyFieldListFilter),)
    search_fields = ("symbol", "reason")
    ordering = ("-created_at",)
    actions = ["lift"]

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Lift the selected halts", permissions=["change"])
    def lift(self, request, queryset):
        lifted = 0
        with transaction.atomic():
            for halt in queryset.filter(lifted_at__isnull=True):
                # Conditional update: a halt lifted concurrently is neither lifted nor audited twice.
                if TradingHalt.objects.filter(pk=halt.pk, lifted_at__isnull=True).update(lifted_at=timezone.now()):
                    self.audit(request, halt, "lifted", {"symbol": halt.symbol, "reason": halt.reason})
                    lifted += 1
        self.message_user(request, f"{lifted} halt(s) lifted", messages.SUCCESS)


@admin.register(DayTradeCount)
class DayTradeCountAdmin(ReadOnlyAdmin):
    list_display = ("account", "trade_date", "count")
    list_filter = ("trade_date",)
    search_fields = ("account__account_number", "account__user__username")
    list_select_related = ("account__user",)
    ordering = ("-trade_date",)
