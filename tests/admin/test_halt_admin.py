"""Staff halt a symbol, an account, everything (the kill switch) or a venue from the admin: each
goes through the risk/orders services, refuses what it should, and is audited."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from compliance.models import AuditEvent
from compliance.selectors import audit_chain_breaks
from orders.models import Venue
from orders.services import order_place
from risk.models import TradingHalt
from risk.services import circuit_breaker_trip, halt_lift, halt_set
from core.errors import Refused

pytestmark = pytest.mark.django_db
D = Decimal
ORDER = dict(symbol="AAPL", side="buy", order_type="limit", time_in_force="day", qty="1", limit_price="100")


def url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def refusal(account) -> str | None:
    try:
        order_place(account_id=account.pk, actor="test", **ORDER)
    except Refused as exc:
        return exc.reason
    return None


def halt_events():
    return list(AuditEvent.objects.filter(entity_type="tradinghalt").order_by("id")
                .values_list("chain", "actor", "action"))


@pytest.mark.parametrize(("scope", "code"), [("symbol", "symbol_halted"), ("account", "account_halted"),
                                             ("all", "trading_halted")])
def test_staff_add_a_halt_of_any_scope_and_lift_it_audited(admin_client, account, aapl, scope, code):
    form = {"symbol": {"symbol": "aapl", "reason": "news pending"},
            "account": {"account": account.pk, "reason": "fraud review"},
            "all": {"reason": "market-wide incident"}}[scope]

    response = admin_client.post(url(TradingHalt, "add"), form)

    assert response.status_code == 302, response.content.decode()[:2000]
    halt = TradingHalt.objects.get()
    assert (halt.source, halt.lifted_at) == ("staff", None)
    assert refusal(account) == code
    chain = str(account.pk) if scope == "account" else ""
    assert halt_events() == [(chain, "admin:admin", "tradinghalt.created")]

    response = admin_client.post(url(TradingHalt, "changelist"),
                                 {"action": "lift", admin.helpers.ACTION_CHECKBOX_NAME: [halt.pk]})

    assert response.status_code == 302
    assert refusal(account) is None
    assert halt_events() == [(chain, "admin:admin", "tradinghalt.created"), (chain, "admin:admin", "tradinghalt.lifted")]
    assert audit_chain_breaks() == []


def test_a_halt_of_both_a_symbol_and_an_account_is_refused_by_the_form(admin_client, account):
    response = admin_client.post(url(TradingHalt, "add"), {"symbol": "AAPL", "account": account.pk, "reason": "x"})

    assert response.status_code == 200
    assert "halt a symbol or an account, not both" in response.content.decode()
    assert not TradingHalt.objects.exists() and not AuditEvent.objects.filter(entity_type="tradinghalt").exists()


def test_adding_an_equal_active_halt_again_returns_the_first(admin_client):
    for _ in range(2):
        assert admin_client.post(url(TradingHalt, "add"), {"symbol": "GME", "reason": "volatility"}).status_code == 302
    assert TradingHalt.objects.count() == 1
    assert len(halt_events()) == 1


def test_a_halt_is_history_it_cannot_be_edited_or_deleted(admin_client):
    halt = halt_set(symbol="GME", reason="volatility", source="staff", actor="t")
    assert admin_client.get(url(TradingHalt, "change", halt.pk)).status_code == 200

    response = admin_client.post(url(TradingHalt, "change", halt.pk), {"symbol": "AMC", "reason": "edited"})

    halt.refresh_from_db()
    assert (halt.symbol, halt.reason) == ("GME", "volatility")
    assert response.status_code in (200, 302)
    assert admin_client.post(url(TradingHalt, "delete", halt.pk), {"post": "yes"}).status_code == 403
    assert TradingHalt.objects.filter(pk=halt.pk).exists()


def test_kill_switch_button_halts_everything_and_the_other_lifts_it(admin_client, account, aapl):
    changelist = admin_client.get(url(TradingHalt, "changelist")).content.decode()
    assert "Kill switch: halt ALL trading" in changelist
    assert admin_client.get(reverse("admin:risk_tradinghalt_kill_switch")).status_code == 200

    response = admin_client.post(reverse("admin:risk_tradinghalt_kill_switch"), {"reason": "runaway algo"})

    assert response.status_code == 302
    assert refusal(account) == "trading_halted"
    assert "Kill switch is ON" in admin_client.get(url(TradingHalt, "changelist")).content.decode()
    assert admin_client.get(reverse("admin:risk_tradinghalt_kill_switch_release")).status_code == 200

    response = admin_client.post(reverse("admin:risk_tradinghalt_kill_switch_release"))

    assert response.status_code == 302
    assert refusal(account) is None
    assert halt_events() == [("", "admin:admin", "tradinghalt.created"), ("", "admin:admin", "tradinghalt.lifted")]
    assert TradingHalt.objects.get().reason == "runaway algo"


def test_kill_switch_needs_permission(client, django_user_model):
    staff = django_user_model.objects.create_user("viewer", password="pw-123456789", is_staff=True)
    client.force_login(staff)
    assert client.post(reverse("admin:risk_tradinghalt_kill_switch"), {"reason": "x"}).status_code == 403
    assert not TradingHalt.objects.exists()


@pytest.mark.parametrize(("query", "expected"), [
    ({"scope": "symbol"}, {"GME", "AAPL"}),
    ({"scope": "account"}, {"account"}),
    ({"scope": "all"}, {"ALL"}),
    ({"source": "circuit_breaker"}, {"AAPL"}),
    ({"state": "active"}, {"GME", "account"}),
    ({"state": "expired"}, {"AAPL"}),
    ({"state": "lifted"}, {"ALL"}),
])
def test_halts_are_filtered_by_scope_source_and_state(admin_client, account, query, expected):
    halt_set(symbol="GME", reason="r", source="staff", actor="t")
    halt_set(account_id=account.pk, reason="r", source="staff", actor="t")
    halt_lift(halt_id=halt_set(reason="r", source="staff", actor="t").pk, actor="t")
    circuit_breaker_trip(symbol="AAPL", reference_price=D(100), price=D(111), at=timezone.now() - timedelta(hours=1))

    response = admin_client.get(url(TradingHalt, "changelist"), query)

    assert response.status_code == 200
    shown = {"account" if h.account_id else (h.symbol or "ALL") for h in response.context["cl"].result_list}
    assert shown == expected


# --- venues ---------------------------------------------------------------------------------------


def test_staff_halt_and_resume_a_venue_audited(admin_client):
    venue = Venue.objects.order_by("name").first()
    changelist = url(Venue, "changelist")
    assert admin_client.get(changelist).status_code == 200

    response = admin_client.post(changelist, {"action": "halt", "reason": "erratic fills",
                                              admin.helpers.ACTION_CHECKBOX_NAME: [venue.pk]})

    assert response.status_code == 302
    venue.refresh_from_db()
    assert (venue.halted, venue.halt_reason) == (True, "erratic fills")

    response = admin_client.post(changelist, {"action": "resume", admin.helpers.ACTION_CHECKBOX_NAME: [venue.pk]})

    assert response.status_code == 302
    venue.refresh_from_db()
    assert (venue.halted, venue.halt_reason) == (False, "")
    events = list(AuditEvent.objects.filter(entity_type="venue").order_by("id")
                  .values_list("chain", "actor", "action", "entity_id"))
    assert events == [("", "admin:admin", "venue.halted", venue.pk), ("", "admin:admin", "venue.resumed", venue.pk)]


def test_venue_session_is_read_only_and_routing_preferences_are_audited(admin_client):
    venue = Venue.objects.order_by("name").first()

    response = admin_client.post(url(Venue, "change", venue.pk),
                                 {"fee_per_share": "0.0030", "symbols": "[]", "session": "down", "halted": "on"})

    assert response.status_code == 302, response.content.decode()[:2000]
    venue.refresh_from_db()
    assert (venue.session, venue.halted, venue.fee_per_share) == ("up", False, D("0.003"))
    assert AuditEvent.objects.filter(action="venue.changed", actor="admin:admin", entity_id=venue.pk).exists()
