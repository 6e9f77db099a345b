"""Staff work through the admin: every model browsable, service-owned rows read-only, cash moved
through the ledger services, and every edit audited."""
from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.models import Account, ApiKey, JournalEntry
from accounts.selectors import ledger_balance_mismatches
from compliance.models import AuditEvent
from compliance.selectors import audit_chain_breaks
from orders.services import order_place
from risk.models import RiskLimits, TradingHalt

pytestmark = pytest.mark.django_db
D = Decimal


def url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def order(account, aapl):
    return order_place(account_id=account.pk, actor="test", symbol="AAPL", side="buy", order_type="limit",
                       time_in_force="day", qty="1", limit_price="100")


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m.__name__)
def test_every_model_has_a_working_list_search_and_detail_page(admin_client, model, order):
    assert admin_client.get(url(model, "changelist")).status_code == 200
    if admin.site._registry[model].search_fields:
        assert admin_client.get(url(model, "changelist"), {"q": "AAPL"}).status_code == 200
    obj = model.objects.first()
    if obj is not None:
        assert admin_client.get(url(model, "change", obj.pk)).status_code == 200


@pytest.mark.parametrize("model_path", ["compliance.AuditEvent", "accounts.JournalEntry", "accounts.JournalLeg",
                                        "orders.Execution", "orders.Order", "orders.OutboxMessage",
                                        "portfolio.Position"])
def test_service_owned_rows_are_read_only(admin_client, rf, admin_user, model_path):
    from django.apps import apps

    model_admin = admin.site._registry[apps.get_model(model_path)]
    request = rf.get("/")
    request.user = admin_user
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)


def test_an_api_key_changes_only_its_rate_limit_tier_in_the_admin(admin_client, rf, admin_user, account):
    """Staff set a key's tier (accounts.throttling, audited by api_key_rate_limit_set); the key itself
    stays as the service made it."""
    from accounts.models import ApiKey

    model_admin = admin.site._registry[ApiKey]
    request = rf.get("/")
    request.user = admin_user
    assert not model_admin.has_add_permission(request) and not model_admin.has_delete_permission(request)
    key = ApiKey.objects.filter(account=account).first()
    before = (key.key_id, key.label, key.secret_hash, key.revoked_at)
    page = admin_client.post(url(ApiKey, "change", key.pk), {"rate_limit_per_minute": "50", "label": "changed",
                                                             "key_id": "TXOTHER", "revoked_at": "2020-01-01"})
    assert page.status_code == 302
    key.refresh_from_db()
    assert key.rate_limit_per_minute == 50 and (key.key_id, key.label, key.secret_hash, key.revoked_at) == before


def test_cash_deposit_and_withdrawal_go_through_the_ledger_and_are_audited(admin_client, account):
    cash_url = url(Account, "cash", account.pk)
    assert admin_client.get(cash_url).status_code == 200

    response = admin_client.post(cash_url, {"direction": "deposit", "amount": "250.00", "description": ""})
    assert response.status_code == 302
    response = admin_client.post(cash_url, {"direction": "withdraw", "amount": "50.00", "description": "wire out"})
    assert response.status_code == 302

    account.refresh_from_db()
    assert account.settled_cash == D("10200.00")
    assert list(JournalEntry.objects.filter(account=account).values_list("kind", flat=True).order_by("id")) == [
        "CSD", "CSD", "CSW"]
    assert AuditEvent.objects.filter(actor="admin:admin", action__in=["cash.deposited", "cash.withdrawn"]).count() == 2
    assert ledger_balance_mismatches() == []


def test_a_withdrawal_beyond_free_cash_is_refused_and_changes_nothing(admin_client, account):
    response = admin_client.post(url(Account, "cash", account.pk), {"direction": "withdraw", "amount": "10000.01"})

    assert response.status_code == 200
    assert "insufficient_funds" in response.content.decode()
    account.refresh_from_db()
    assert account.settled_cash == D("10000.00")
    assert not AuditEvent.objects.filter(action="cash.withdrawn").exists()


def test_balances_cannot_be_edited_and_a_status_change_is_audited_on_the_account_chain(admin_client, account):
    data = {"status": "RESTRICTED", "kyc_status": "approved", "settled_cash": "999999",
            "api_keys-TOTAL_FORMS": "1", "api_keys-INITIAL_FORMS": "1", "api_keys-MIN_NUM_FORMS": "0",
            "api_keys-MAX_NUM_FORMS": "1000", "api_keys-0-id": ApiKey.objects.get(account=account).pk,
            "api_keys-0-account": account.pk}
    response = admin_client.post(url(Account, "change", account.pk), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    account.refresh_from_db()
    assert account.status == "RESTRICTED"
    assert account.settled_cash == D("10000.00")
    event = AuditEvent.objects.get(action="account.changed")
    assert event.chain == str(account.pk) and event.actor == "admin:admin"
    assert event.data == {"changes": {"status": ["ACTIVE", "RESTRICTED"]}}
    assert audit_chain_breaks() == []


def test_risk_limit_and_halt_edits_are_audited(admin_client, account):
    response = admin_client.post(url(RiskLimits, "add"), {"account": account.pk, "max_order_qty": "500"})
    assert response.status_code == 302
    limits = RiskLimits.objects.get(account=account)
    response = admin_client.post(url(RiskLimits, "change", limits.pk), {"account": account.pk, "max_order_qty": "50"})
    assert response.status_code == 302
    response = admin_client.post(url(TradingHalt, "add"), {"symbol": "GME", "reason": "volatility"})
    assert response.status_code == 302
    halt = TradingHalt.objects.get(symbol="GME")
    response = admin_client.post(url(TradingHalt, "changelist"),
                                 {"action": "lift", admin.helpers.ACTION_CHECKBOX_NAME: [halt.pk]})
    assert response.status_code == 302

    halt.refresh_from_db()
    assert halt.lifted_at is not None
    events = list(AuditEvent.objects.filter(chain="").order_by("seq").values_list("actor", "action", "entity_id"))
    assert events == [("admin:admin", "risklimits.created", str(limits.pk)),
                      ("admin:admin", "risklimits.changed", str(limits.pk)),
                      ("admin:admin", "tradinghalt.created", str(halt.pk)),
                      ("admin:admin", "tradinghalt.lifted", str(halt.pk))]
    changed = AuditEvent.objects.get(action="risklimits.changed")
    old, new = changed.data["changes"]["max_order_qty"]
    assert (D(old), D(new)) == (D(500), D(50))


def test_staff_can_cancel_an_order_through_the_order_service(admin_client, order):
    from orders.models import Order

    response = admin_client.post(url(Order, "changelist"),
                                 {"action": "cancel", admin.helpers.ACTION_CHECKBOX_NAME: [order.pk]})

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == "pending_cancel"  # at a venue: canceled only when the venue confirms
    assert AuditEvent.objects.filter(entity_id=str(order.pk), action="order.pending_cancel",
                                     actor="admin:admin").exists()
