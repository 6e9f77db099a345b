"""Venues in the admin: their FIX session as the bridge last saw it (read-only: only the bridge
writes it), staff halt/resume through orders.services.venue_halts (audited), routing preferences (fee,
listed symbols) editable and audited. Venues come from TRADEX_VENUES, so none is added or deleted here."""
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db import transaction

from compliance.admin_tools import AuditedAdmin, admin_actor
from core.errors import TradeXError

from .models import Venue
from .venue_selection import venue_cache_clear
from .services.venue_halts import venue_halt, venue_resume


class VenueActionForm(ActionForm):
    reason = forms.CharField(required=False, max_length=200, label="Halt reason",
                             widget=forms.TextInput(attrs={"placeholder": "reason (for halt)"}))


@admin.register(Venue)
class VenueAdmin(AuditedAdmin):
    list_display = ("name", "host", "port", "session", "session_changed_at", "halted", "halt_reason", "fee_per_share")
    list_filter = ("session", "halted")
    search_fields = ("name", "host")
    readonly_fields = ("name", "host", "port", "session", "session_changed_at", "halted", "halt_reason")
    fields = (*readonly_fields, "fee_per_share", "symbols")
    ordering = ("name",)
    action_form = VenueActionForm
    actions = ["halt", "resume"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)  # audited (AuditedAdmin)
        transaction.on_commit(venue_cache_clear)

    @admin.action(description="Halt the selected venues (no new orders routed there)", permissions=["change"])
    def halt(self, request, queryset):
        reason = (request.POST.get("reason") or "").strip() or f"halted by {admin_actor(request)}"
        for name in queryset.values_list("name", flat=True):
            try:
                changed = venue_halt(venue=name, reason=reason, actor=admin_actor(request))
            except TradeXError as exc:
                self.message_user(request, f"{name}: {exc.message}", messages.WARNING)
            else:
                self.message_user(request, f"{name}: {'halted' if changed else 'already halted'}",
                                  messages.WARNING if changed else messages.INFO)

    @admin.action(description="Resume the selected venues", permissions=["change"])
    def resume(self, request, queryset):
        for name in queryset.values_list("name", flat=True):
            changed = venue_resume(venue=name, actor=admin_actor(request))
            self.message_user(request, f"{name}: {'resumed' if changed else 'was not halted'}", messages.SUCCESS)
