"""Surveillance in the admin: the alert queue with each alert's evidence (its orders, executions
and timeline) and the case actions (assign to me, annotate, escalate, close with a reason), each
through a service and audited; the rules' parameters and the beneficial-owner groups (audited
edits); the scan cursor (read-only)."""
from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from compliance.admin_tools import AuditedAdmin, ReadOnlyAdmin, admin_actor
from core.errors import TradeXError

from . import services
from .models import Alert, AlertNote, OwnerGroup, OwnerLink, RuleConfig, ScanCursor
from .rules import DEFAULTS


@admin.register(RuleConfig)
class RuleConfigAdmin(AuditedAdmin):
    """One row per rule (made by the migration): staff switch rules on and off and override
    parameters; each value is checked against the default's type, each save audited."""

    list_display = ("rule", "enabled", "params", "updated_at")
    fields = ("rule", "enabled", "params", "defaults")
    readonly_fields = ("rule", "defaults")

    @admin.display(description="defaults (params overrides these)")
    def defaults(self, obj):
        return format_html_join(", ", "{}={}", ((k, v) for k, v in DEFAULTS.get(obj.rule, {}).items()))

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OwnerLinkInline(admin.TabularInline):
    model = OwnerLink
    extra = 1
    raw_id_fields = ("account",)


@admin.register(OwnerGroup)
class OwnerGroupAdmin(AuditedAdmin):
    """Accounts of one beneficial owner: the wash-trade rule treats them as one party."""

    list_display = ("name", "accounts")
    inlines = [OwnerLinkInline]

    @admin.display(description="accounts")
    def accounts(self, obj):
        return obj.links.count()

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        links = [str(a) for a in OwnerLink.objects.filter(group=form.instance).values_list("account_id", flat=True)]
        self.audit(request, form.instance, "accounts_set", {"accounts": links})


@admin.register(ScanCursor)
class ScanCursorAdmin(ReadOnlyAdmin):
    list_display = ("name", "last_update_id", "events_scanned", "scanned_at")


ACTIONS = [("", "—"), ("assign", "Assign to me"), ("note", "Add a note"), ("escalate", "Escalate"),
           ("close", "Close with a reason")]


class CaseForm(forms.ModelForm):
    case_action = forms.ChoiceField(choices=ACTIONS, required=False, label="Action")
    reason = forms.ChoiceField(choices=[("", "—"), *Alert.CloseReason.choices], required=False,
                               label="Close reason")
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                           help_text="the note; the reason for an escalation; the explanation of a close")

    class Meta:
        model = Alert
        fields: list[str] = []

    def clean(self):
        data = super().clean()
        action, text = data.get("case_action"), (data.get("text") or "").strip()
        target = {"assign": Alert.Status.ASSIGNED, "escalate": Alert.Status.ESCALATED, "close": Alert.Status.CLOSED}
        if action in target and target[action] not in services.TRANSITIONS[self.instance.status]:
            raise forms.ValidationError(f"a {self.instance.status} alert cannot be {target[action]}")
        if action in ("note", "escalate", "close") and not text:
            self.add_error("text", "write why")
        if action == "close" and not data.get("reason"):
            self.add_error("reason", "a closed alert needs a reason")
        return data


def _table(headers, rows):
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join("", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),)
                                                 for row in rows))
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    """The queue: open and escalated first, newest first. Nothing on an alert is edited; staff act
    on it with the case actions below the evidence."""

    form = CaseForm
    list_display = ("id", "rule", "symbol", "trade_date", "account", "score", "status", "assignee", "created_at")
    list_filter = ("rule", "status", "symbol", "trade_date")
    search_fields = ("symbol", "account__account_number", "owner")
    list_select_related = ("account", "assignee")
    ordering = ("status", "-created_at")
    actions = ["assign_to_me"]
    readonly = ("rule", "status", "assignee", "close_reason", "symbol", "trade_date", "window_start", "window_end",
                "account", "accounts", "owner", "score", "metrics", "created_at", "closed_at")
    readonly_fields = (*readonly, "orders_table", "executions_table", "timeline", "case_history")
    fieldsets = [
        (None, {"fields": readonly}),
        ("Evidence", {"fields": ("orders_table", "executions_table", "timeline")}),
        ("Case", {"fields": ("case_history", "case_action", "reason", "text")}),
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="orders")
    def orders_table(self, obj):
        return _table(("order", "account", "side", "type", "qty", "limit", "filled", "status", "placed", "canceled"),
                      [(o["id"][:8], o["account_id"][:8], o["side"], o["order_type"], o["qty"], o["limit_price"] or "",
                        o["filled_qty"], o["status"], o["created_at"], o["canceled_at"] or "")
                       for o in obj.evidence.get("orders", [])])

    @admin.display(description="executions")
    def executions_table(self, obj):
        return _table(("execution", "order", "account", "side", "qty", "price", "venue", "exec id", "at"),
                      [(e["id"][:8], e["order_id"][:8], e["account_id"][:8], e["side"], e["qty"], e["price"],
                        e["venue"], e["exec_id"], e["transacted_at"]) for e in obj.evidence.get("executions", [])])

    @admin.display(description="timeline")
    def timeline(self, obj):
        return _table(("at", "event", "order", "account", "detail"),
                      [(t["at"], t["event"], t["order_id"][:8], t["account_id"][:8], t["detail"])
                       for t in obj.evidence.get("timeline", [])])

    @admin.display(description="history")
    def case_history(self, obj):
        notes = AlertNote.objects.filter(alert=obj).select_related("author")
        return _table(("at", "step", "by", "text"),
                      [(n.created_at, n.kind, n.author.username if n.author else "", n.text) for n in notes])

    def save_model(self, request, obj, form, change):
        """The alert itself is not saved: the chosen case action runs through its service."""
        data, actor = form.cleaned_data, admin_actor(request)
        action, text = data.get("case_action"), (data.get("text") or "").strip()
        if action == "assign":
            services.alert_assign(alert_id=obj.pk, user=request.user, actor=actor)
            if text:
                services.alert_annotate(alert_id=obj.pk, user=request.user, text=text, actor=actor)
        elif action == "note":
            services.alert_annotate(alert_id=obj.pk, user=request.user, text=text, actor=actor)
        elif action == "escalate":
            services.alert_escalate(alert_id=obj.pk, user=request.user, text=text, actor=actor)
        elif action == "close":
            services.alert_close(alert_id=obj.pk, user=request.user, reason=data["reason"], text=text,
                                 actor=actor)

    def save_related(self, request, form, formsets, change):
        pass  # nothing related is edited here

    def log_change(self, request, obj, message):
        pass  # the audit trail records the step

    @admin.action(description="Assign to me", permissions=["change"])
    def assign_to_me(self, request, queryset):
        done = 0
        for alert in queryset.select_related(None).only("pk"):
            try:
                services.alert_assign(alert_id=alert.pk, user=request.user, actor=admin_actor(request))
                done += 1
            except TradeXError as error:
                self.message_user(request, f"alert {alert.pk}: {error.message}", messages.WARNING)
        self.message_user(request, f"{done} alert(s) assigned to you")
