from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from compliance.admin_tools import AuditedAdmin, ReadOnlyAdmin, admin_actor, permission_view
from core.errors import TradeXError

from .inputs import active_halts
from .models import DayTradeCount, RiskLimits, TradingHalt
from .services import halt_lift, halt_set, kill_switch_engage, kill_switch_release


@admin.register(RiskLimits)
class RiskLimitsAdmin(AuditedAdmin):
    list_display = ("account", "max_order_notional", "max_order_qty", "max_position_qty", "max_concentration",
                    "max_open_orders_per_symbol")
    search_fields = ("account__account_number", "account__user__username")
    list_select_related = ("account__user",)
    raw_id_fields = ("account",)


class ScopeFilter(admin.SimpleListFilter):
    title = "scope"
    parameter_name = "scope"

    def lookups(self, request, model_admin):
        return [("all", "Everything (kill switch)"), ("symbol", "Symbol"), ("account", "Account")]

    def queryset(self, request, queryset):
        return {
            "all": lambda: queryset.filter(symbol="", account__isnull=True),
            "symbol": lambda: queryset.exclude(symbol=""),
            "account": lambda: queryset.filter(account__isnull=False),
        }.get(self.value(), lambda: queryset)()


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("expired", "Expired (resume time passed)"), ("lifted", "Lifted")]

    def queryset(self, request, queryset):
        now = timezone.now()
        return {
            "active": lambda: queryset.filter(Q(resume_at__isnull=True) | Q(resume_at__gt=now), lifted_at__isnull=True),
            "expired": lambda: queryset.filter(lifted_at__isnull=True, resume_at__lte=now),
            "lifted": lambda: queryset.filter(lifted_at__isnull=False),
        }.get(self.value(), lambda: queryset)()


class KillSwitchForm(forms.Form):
    reason = forms.CharField(max_length=200, initial="kill switch", help_text="recorded on the halt and in the audit trail")


@admin.register(TradingHalt)
class TradingHaltAdmin(admin.ModelAdmin):
    """Halts of a symbol, of an account, or of everything (symbol and account blank: the kill
    switch). Staff add and lift them here through risk.services, which audit each change; halts are
    history, so they are never edited or deleted. The changelist has the kill-switch buttons."""

    list_display = ("scope_display", "source", "venue", "reason", "created_at", "resume_at", "lifted_at", "active")
    list_filter = (StateFilter, ScopeFilter, "source", "venue")
    search_fields = ("symbol", "reason", "venue", "account__account_number", "account__user__username")
    list_select_related = ("account__user",)
    raw_id_fields = ("account",)
    fields = ("symbol", "account", "reason", "resume_at", "source", "venue", "created_at", "lifted_at")
    ordering = ("-created_at",)
    actions = ["lift"]

    @admin.display(description="scope")
    def scope_display(self, obj: TradingHalt) -> str:
        if obj.account_id:
            return f"account {obj.account}"
        return f"symbol {obj.symbol}" if obj.symbol else "EVERYTHING (kill switch)"

    @admin.display(description="active", boolean=True)
    def active(self, obj: TradingHalt) -> bool:
        return obj.lifted_at is None and (obj.resume_at is None or obj.resume_at > timezone.now())

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("source", "venue", "created_at", "lifted_at")
        return self.fields  # a halt is history: lift it, never edit it

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Adding goes through halt_set (validation, idempotency, audit); there is nothing to change."""
        if change:
            return
        halt = halt_set(symbol=obj.symbol, account_id=obj.account_id, reason=obj.reason,
                        source=TradingHalt.Source.STAFF, resume_at=obj.resume_at, actor=admin_actor(request))
        for field in TradingHalt._meta.concrete_fields:  # the admin's redirect and message use `obj`
            setattr(obj, field.attname, getattr(halt, field.attname))
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        pass  # no many-to-many or inlines; and `obj` may be an existing equal halt

    @admin.action(description="Lift the selected halts", permissions=["change"])
    def lift(self, request, queryset):
        lifted = 0
        for halt_id in queryset.filter(lifted_at__isnull=True).values_list("pk", flat=True):
            halt = halt_lift(halt_id=halt_id, actor=admin_actor(request))
            lifted += halt.lifted_at is not None
        self.message_user(request, f"{lifted} halt(s) lifted", messages.SUCCESS)

    # --- kill switch ---

    def get_urls(self):
        return [
            path("kill-switch/", permission_view(self, self.kill_switch_view, "add"), name="risk_tradinghalt_kill_switch"),
            path("kill-switch/release/", permission_view(self, self.kill_switch_release_view, "change"),
                 name="risk_tradinghalt_kill_switch_release"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}),
                         "kill_switch_on": active_halts().filter(symbol="", account__isnull=True).exists()}
        return super().changelist_view(request, extra_context=extra_context)

    def _page(self, request, *, title: str, form, action: str):
        context = {**self.admin_site.each_context(request), "opts": self.opts, "title": title, "form": form,
                   "action": action}
        return TemplateResponse(request, "admin/risk/tradinghalt/kill_switch.html", context)

    def kill_switch_view(self, request):
        """Halt all trading, firm-wide: a confirmation page with the reason, then kill_switch_engage."""
        form = KillSwitchForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                kill_switch_engage(reason=form.cleaned_data["reason"], actor=admin_actor(request))
            except TradeXError as exc:
                form.add_error("reason", f"{exc.message} ({exc.reason})")
            else:
                self.message_user(request, "Kill switch ON: all new orders are refused (trading_halted)",
                                  messages.WARNING)
                return redirect("admin:risk_tradinghalt_changelist")
        return self._page(request, title="Kill switch: halt ALL trading", form=form, action="engage")

    def kill_switch_release_view(self, request):
        """Lift every firm-wide halt (confirmation page, then kill_switch_release)."""
        if request.method == "POST":
            lifted = kill_switch_release(actor=admin_actor(request))
            self.message_user(request, f"Kill switch OFF: {lifted} firm-wide halt(s) lifted", messages.SUCCESS)
            return redirect("admin:risk_tradinghalt_changelist")
        return self._page(request, title="Lift the kill switch: resume trading", form=None, action="release")


@admin.register(DayTradeCount)
class DayTradeCountAdmin(ReadOnlyAdmin):
    list_display = ("account", "trade_date", "count")
    list_filter = ("trade_date",)
    search_fields = ("account__account_number", "account__user__username")
    list_select_related = ("account__user",)
    ordering = ("-trade_date",)
