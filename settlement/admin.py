"""Settlement in the admin: the operations view (status by date, T+1 misses, job runs), the
corporate-action entry form, the reconciliation review queue, and read-only obligations,
violations and restrictions. Staff change nothing here except through a service, audited."""
from datetime import timedelta

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import path

from compliance.admin_tools import AuditedAdmin, ReadOnlyAdmin, admin_actor, permission_view
from core.errors import TradeXError
from core.models import JobRun

from . import calendar, selectors
from .services import break_resolve
from .models import (
    AccountRestriction,
    CashRuleViolation,
    CorporateAction,
    CorporateActionApplication,
    Obligation,
    ReconciliationBreak,
    ReconciliationRun,
    SettlementBatch,
)


@admin.register(Obligation)
class ObligationAdmin(ReadOnlyAdmin):
    list_display = ("id", "account", "symbol", "side", "qty", "amount", "trade_date", "settle_date", "status",
                    "settled_at", "batch_id")
    list_filter = ("status", "settle_date", "market")
    search_fields = ("symbol", "account__account_number")
    date_hierarchy = "settle_date"
    list_select_related = ("account__user",)
    show_full_result_count = False  # a million rows: no COUNT(*) per page

    def get_urls(self):
        ops = path("operations/", permission_view(self, self.operations_view, "view"), name="settlement_operations")
        return [ops, *super().get_urls()]

    def operations_view(self, request):
        today = calendar.today()
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": "Settlement operations",
            "today": today,
            "by_date": selectors.status_by_date(start=today - timedelta(days=14), end=today + timedelta(days=7),
                                                today=today),
            "misses": selectors.deadline_misses(today=today),
            "jobs": selectors.job_last_runs(),
            "open_breaks": ReconciliationBreak.objects.filter(status="open").count(),
        }
        return TemplateResponse(request, "admin/settlement/operations.html", context)


@admin.register(SettlementBatch)
class SettlementBatchAdmin(ReadOnlyAdmin):
    list_display = ("id", "as_of", "obligations", "accounts", "worker", "committed_at")
    date_hierarchy = "committed_at"
    show_full_result_count = False


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = ("job", "started_at", "finished_at", "outcome", "detail")
    list_filter = ("job", "outcome")


@admin.register(CashRuleViolation)
class CashRuleViolationAdmin(ReadOnlyAdmin):
    list_display = ("account", "kind", "symbol", "trade_date", "amount", "detail")
    list_filter = ("kind",)
    search_fields = ("account__account_number", "symbol")


@admin.register(AccountRestriction)
class AccountRestrictionAdmin(ReadOnlyAdmin):
    list_display = ("account", "reason", "starts_on", "ends_on", "violations")


class ApplicationInline(admin.TabularInline):
    model = CorporateActionApplication
    extra = 0
    can_delete = False
    fields = ("account", "qty_before", "qty_after", "cash", "orders_adjusted", "applied_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(CorporateAction)
class CorporateActionAdmin(AuditedAdmin):
    """Staff enter splits and dividends; the daily job applies them (exactly once per account).
    Once the job has started on one, it can no longer be edited or deleted."""

    list_display = ("symbol", "kind", "new_shares", "old_shares", "cash_per_share", "ex_date", "pay_date", "status",
                    "applied_at")
    list_filter = ("kind", "status")
    fields = ("symbol", "kind", "new_shares", "old_shares", "cash_per_share", "ex_date", "record_date", "pay_date",
              "notes", "status", "applied_at")
    readonly_fields = ("status", "applied_at")
    inlines = [ApplicationInline]

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.status == "pending")

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.status == "pending")


class BreakInline(admin.TabularInline):
    model = ReconciliationBreak
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("kind", "exec_id", "symbol", "venue_qty", "broker_qty", "venue_price", "broker_price", "status")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = ("trade_date", "venue", "result", "venue_executions", "broker_executions", "breaks", "created_at")
    list_filter = ("result", "venue")
    inlines = [BreakInline]


@admin.register(ReconciliationBreak)
class ReconciliationBreakAdmin(admin.ModelAdmin):
    """The review queue: open breaks first; staff resolve one by writing what was done."""

    list_display = ("run", "kind", "exec_id", "symbol", "venue_qty", "broker_qty", "venue_price", "broker_price",
                    "status", "resolved_by")
    list_filter = ("status", "kind", "venue")
    ordering = ("-status", "-run__trade_date", "id")  # "resolved" < "open": open first
    fields = ("run", "kind", "venue", "exec_id", "symbol", "venue_qty", "broker_qty", "venue_price", "broker_price",
              "execution", "detail", "status", "resolution", "resolved_by", "resolved_at")

    def get_readonly_fields(self, request, obj=None):
        editable = {"resolution"} if obj is not None and obj.status == "open" else set()
        return [f for f in self.fields if f not in editable]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        try:
            break_resolve(break_id=obj.pk, actor=admin_actor(request), resolution=form.cleaned_data.get("resolution", ""))
        except TradeXError as exc:
            messages.error(request, exc.message)
