"""The alert queue in the admin: filters, readable evidence, and the case actions through the
services (audited); rule parameters validated and audited."""
from decimal import Decimal

import pytest
from django.urls import reverse

from compliance.models import AuditEvent
from surveillance.demo import demo_write
from surveillance.models import Alert, AlertNote, RuleConfig
from tests.factories import make_asset

pytestmark = pytest.mark.django_db


@pytest.fixture
def alerts():
    make_asset("AMD", price=Decimal("240.00"))
    demo_write(actor="test")
    return Alert.objects.all()


def test_queue_filters_and_evidence(admin_client, alerts):
    changelist = reverse("admin:surveillance_alert_changelist")
    for query in ({}, {"rule": "wash_trade"}, {"status": "open"}, {"symbol": "AMD"}, {"q": "AMD"}):
        assert admin_client.get(changelist, query).status_code == 200
    page = admin_client.get(changelist, {"rule": "spoofing"}).content.decode()
    assert "Spoofing / layering" in page
    alert = alerts.get(rule="spoofing")
    page = admin_client.get(reverse("admin:surveillance_alert_change", args=[alert.pk])).content.decode()
    # Three cancelled bids: in the orders table (status) and in the timeline (event).
    assert page.count("<td>canceled</td>") == 6 and "<td>executed</td>" in page
    for execution in alert.evidence["executions"]:
        assert execution["exec_id"] in page


def case_step(client, alert, **data):
    return client.post(reverse("admin:surveillance_alert_change", args=[alert.pk]),
                       {"case_action": "", "reason": "", "text": "", **data})


def test_case_actions_through_the_admin(admin_client, admin_user, alerts):
    alert = alerts.get(rule="wash_trade")
    assert case_step(admin_client, alert, case_action="assign").status_code == 302
    assert case_step(admin_client, alert, case_action="note", text="called the client").status_code == 302
    refused = case_step(admin_client, alert, case_action="close", text="fine")
    assert refused.status_code == 200 and "a closed alert needs a reason" in refused.content.decode()
    assert case_step(admin_client, alert, case_action="close", reason="explained",
                     text="family accounts rebalancing").status_code == 302
    alert.refresh_from_db()
    assert alert.status == "closed" and alert.assignee == admin_user and alert.close_reason == "explained"
    assert list(AlertNote.objects.filter(alert=alert).values_list("kind", flat=True)) == ["assigned", "note", "closed"]
    assert AuditEvent.objects.filter(entity_id=str(alert.pk), actor=f"admin:{admin_user.username}").count() == 3
    again = case_step(admin_client, alert, case_action="escalate", text="x")
    assert "cannot be escalated" in again.content.decode()


def test_bulk_assign_to_me(admin_client, admin_user, alerts):
    response = admin_client.post(reverse("admin:surveillance_alert_changelist"),
                                 {"action": "assign_to_me", "_selected_action": [a.pk for a in alerts]})
    assert response.status_code == 302
    assert set(Alert.objects.values_list("status", flat=True)) == {"assigned"}


def test_rule_parameters_validated_and_audited(admin_client):
    rule = RuleConfig.objects.get(rule="wash_trade")
    change = reverse("admin:surveillance_ruleconfig_change", args=[rule.pk])
    bad = admin_client.post(change, {"enabled": "on", "params": '{"window_seconds": "soon"}'})
    assert bad.status_code == 200 and "window_seconds must be an integer" in bad.content.decode()
    assert admin_client.post(change, {"enabled": "on", "params": '{"window_seconds": 30}'}).status_code == 302
    rule.refresh_from_db()
    assert rule.params == {"window_seconds": 30}
    assert AuditEvent.objects.filter(action="ruleconfig.changed").count() == 1
