"""Shared admin behaviour: read-only registrations, audited edits, permission-checked custom views."""
from functools import wraps

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import transaction

from compliance.services import audit_record_system


def admin_actor(request) -> str:
    return f"admin:{request.user.username}"


def permission_view(model_admin: admin.ModelAdmin, view, permission: str):
    """A custom admin view (from get_urls) that needs the model permission `permission` ("view",
    "add", "change", "delete" or an action's own, as `has_<permission>_permission`), not only a staff
    login: admin_site.admin_view checks is_staff alone, so a staff user with no permissions could
    open it. Answers 403 without it."""
    check = getattr(model_admin, f"has_{permission}_permission")

    @wraps(view)
    def checked(request, *args, **kwargs):
        if not check(request):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return model_admin.admin_site.admin_view(checked)


class ReadOnlyAdmin(admin.ModelAdmin):
    """For rows that only a service may write (audit, ledger, executions, orders): staff can look,
    never add, change or delete."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AuditedAdmin(admin.ModelAdmin):
    """An admin edit is a state change like any other (invariant 4): each save and delete writes
    a system-chain audit event inside the admin's own transaction, so both commit or neither."""

    def audit(self, request, obj, action: str, data: dict) -> None:
        entity_type = obj._meta.model_name
        audit_record_system(actor=admin_actor(request), action=f"{entity_type}.{action}", entity_type=entity_type,
                            entity_id=obj.pk, data=data)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        changes = {name: [form.initial.get(name), obj.serializable_value(name)] for name in form.changed_data}
        self.audit(request, obj, "changed" if change else "created", {"changes": changes})

    def delete_model(self, request, obj):
        pk, description = obj.pk, str(obj)
        super().delete_model(request, obj)
        obj.pk = pk  # Django clears it on delete; the event still names the row
        self.audit(request, obj, "deleted", {"repr": description})

    def delete_queryset(self, request, queryset):
        # The bulk "delete selected" action runs outside the admin's per-object transaction.
        with transaction.atomic():
            for obj in queryset:
                self.delete_model(request, obj)
