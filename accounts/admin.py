from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path

from compliance.admin_tools import ReadOnlyAdmin, ReadOnlyInline, admin_actor, permission_view
from core.errors import TradeXError

from .models import Account, ApiKey, JournalEntry, JournalLeg, KycProfile, User
from .services import account_update, api_key_rate_limit_set, api_key_revoke, cash_deposit, cash_withdraw

admin.site.register(User, UserAdmin)

BALANCE_FIELDS = ("settled_cash", "unsettled_cash", "reserved_cash")


class CashTransferForm(forms.Form):
    direction = forms.ChoiceField(choices=[("deposit", "Deposit"), ("withdraw", "Withdraw")])
    amount = forms.DecimalField(max_digits=20, decimal_places=2, min_value=Decimal("0.01"))
    description = forms.CharField(max_length=200, required=False)


class ApiKeyInline(ReadOnlyInline):
    model = ApiKey
    fields = ("key_id", "label", "created_at", "revoked_at")
    readonly_fields = fields


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    """Accounts are opened by accounts.services.account_create (`manage.py create_account`), and
    balances move only through the ledger: here staff change status and KYC, and move cash through
    the deposit/withdraw form, which calls the ledger services."""

    list_display = ("account_number", "user", "account_type", "status", "kyc_status", *BALANCE_FIELDS, "created_at")
    list_filter = ("account_type", "status", "kyc_status")
    search_fields = ("account_number", "user__username", "user__email", "=id")
    list_select_related = ("user",)
    readonly_fields = ("id", "account_number", "user", "account_type", *BALANCE_FIELDS, "currency", "created_at")
    fields = ("id", "account_number", "user", "account_type", "status", "kyc_status", *BALANCE_FIELDS, "currency",
              "created_at")
    inlines = [ApiKeyInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Only the edited fields, through the service: it locks the row and audits the change.
        if not form.changed_data:
            return
        account_update(account_id=obj.pk, actor=admin_actor(request),
                       changes={name: getattr(obj, name) for name in form.changed_data})

    def get_urls(self):
        cash = path("<path:object_id>/cash/", permission_view(self, self.cash_view, "change"), name="accounts_account_cash")
        return [cash, *super().get_urls()]

    def cash_view(self, request, object_id):
        account = self.get_object(request, object_id)
        if account is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, account):
            raise PermissionDenied
        form = CashTransferForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            direction, amount = form.cleaned_data["direction"], form.cleaned_data["amount"]
            service = cash_deposit if direction == "deposit" else cash_withdraw
            try:
                service(account_id=account.pk, amount=amount, actor=admin_actor(request),
                        description=form.cleaned_data["description"] or f"{direction} (admin)")
            except TradeXError as exc:
                form.add_error("amount", f"{exc.message} ({exc.reason})")
            else:
                self.message_user(request, f"{direction} of ${amount:,} posted to {account.account_number}",
                                  messages.SUCCESS)
                return redirect("admin:accounts_account_change", account.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": account,
            "form": form,
            "title": f"Deposit or withdraw cash: {account}",
        }
        return TemplateResponse(request, "admin/accounts/account/cash.html", context)


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    """Staff revoke keys and set a key's rate limit tier (accounts.throttling); nothing else changes."""

    list_display = ("key_id", "account", "label", "rate_limit_per_minute", "created_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("=key_id", "account__account_number", "account__user__username", "label")
    list_select_related = ("account__user",)
    actions = ["revoke"]
    fields = ("key_id", "account", "label", "rate_limit_per_minute", "created_at", "revoked_at")
    readonly_fields = ("key_id", "account", "label", "created_at", "revoked_at")

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("accounts.change_apikey")

    def save_model(self, request, obj, form, change):
        # Through the service: it locks the account and audits the change.
        if "rate_limit_per_minute" in form.changed_data:
            api_key_rate_limit_set(key_id=obj.key_id, per_minute=obj.rate_limit_per_minute, actor=admin_actor(request))

    def has_revoke_permission(self, request):
        return request.user.has_perm("accounts.change_apikey")

    @admin.action(description="Revoke the selected keys", permissions=["revoke"])
    def revoke(self, request, queryset):
        revoked = 0
        for key_id in queryset.filter(revoked_at__isnull=True).values_list("key_id", flat=True):
            revoked += api_key_revoke(key_id=key_id, actor=admin_actor(request))
        self.message_user(request, f"{revoked} key(s) revoked", messages.SUCCESS)


class JournalLegInline(ReadOnlyInline):
    model = JournalLeg
    fields = ("book", "account", "amount")
    readonly_fields = fields
    show_change_link = False


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "kind", "account", "description", "reference")
    list_filter = ("kind",)
    search_fields = ("=id", "account__account_number", "account__user__username", "reference")
    list_select_related = ("account__user",)
    date_hierarchy = "created_at"
    ordering = ("-id",)
    show_full_result_count = False
    inlines = [JournalLegInline]


@admin.register(JournalLeg)
class JournalLegAdmin(ReadOnlyAdmin):
    list_display = ("id", "entry", "book", "account", "amount")
    list_filter = ("book",)
    search_fields = ("=entry__id", "account__account_number")
    list_select_related = ("entry", "account__user")
    ordering = ("-id",)
    show_full_result_count = False



@admin.register(KycProfile)
class KycProfileAdmin(ReadOnlyAdmin):
    """What an applicant gave at sign-up. Staff approve or reject on the account's page (KYC
    status), which account_update audits."""

    list_display = ("legal_name", "account", "country", "employment_status", "kyc_status", "submitted_at")
    list_filter = ("account__kyc_status", "country")
    search_fields = ("legal_name", "account__account_number", "account__user__username")
    list_select_related = ("account__user",)

    @admin.display(description="KYC status")
    def kyc_status(self, obj):
        return obj.account.kyc_status
