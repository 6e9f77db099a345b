from django.contrib import admin, messages

from compliance.admin_tools import ReadOnlyAdmin, ReadOnlyInline, admin_actor
from core.errors import TradeXError

from .models import Execution, Order, OutboxMessage
from .services import order_cancel


class ExecutionInline(ReadOnlyInline):
    model = Execution
    fields = ("venue", "exec_id", "qty", "price", "transacted_at")
    readonly_fields = fields


class OutboxInline(ReadOnlyInline):
    model = OutboxMessage
    fields = ("id", "kind", "created_at", "sent_at", "attempts", "parked_at", "park_reason")
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    """Orders change only through the order services and the state table (orders/state.py), so
    the admin shows them and can ask for a cancel through the same service a client uses."""

    list_display = ("created_at", "symbol", "side", "order_type", "qty", "notional", "limit_price", "time_in_force",
                    "status", "filled_qty", "filled_avg_price", "account", "client_order_id")
    list_filter = ("status", "side", "order_type", "time_in_force", "venue")
    search_fields = ("=id", "symbol", "client_order_id", "venue_order_id", "account__account_number",
                     "account__user__username")
    list_select_related = ("account__user",)
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    show_full_result_count = False
    inlines = [ExecutionInline, OutboxInline]
    actions = ["cancel"]

    def has_cancel_permission(self, request):
        return request.user.has_perm("orders.change_order")

    @admin.action(description="Cancel the selected orders", permissions=["cancel"])
    def cancel(self, request, queryset):
        for order in queryset.only("pk", "account_id"):
            try:
                order = order_cancel(account_id=order.account_id, order_id=order.pk, actor=admin_actor(request))
            except TradeXError as exc:
                self.message_user(request, f"{order.pk}: {exc.message}", messages.WARNING)
            else:
                self.message_user(request, f"{order.pk}: {order.status}", messages.SUCCESS)


@admin.register(Execution)
class ExecutionAdmin(ReadOnlyAdmin):
    list_display = ("transacted_at", "symbol", "side", "qty", "price", "venue", "exec_id", "order", "account")
    list_filter = ("venue", "side")
    search_fields = ("=exec_id", "symbol", "=order__id", "account__account_number")
    list_select_related = ("order", "account__user")
    date_hierarchy = "transacted_at"
    ordering = ("-transacted_at",)
    show_full_result_count = False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "order", "created_at", "sent_at", "attempts", "parked_at", "park_reason")
    list_filter = ("kind", ("sent_at", admin.EmptyFieldListFilter), ("parked_at", admin.EmptyFieldListFilter))
    search_fields = ("=order__id",)
    list_select_related = ("order",)
    ordering = ("-id",)
    show_full_result_count = False

from . import venue_admin  # noqa: E402,F401  (registers the Venue admin)
