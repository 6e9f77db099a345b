"""The scan over real orders and fills (placed, filled and cancelled through the orders services):
alerts with their evidence, one per episode however often it is scanned, only new events read,
every alert and case step audited in its own transaction."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from compliance.models import AuditEvent
from core.errors import Conflict, InvalidInput
from core.models import JobRun
from orders.models import TradeUpdate
from orders.services import execution_apply, order_cancel, order_place, order_venue_canceled
from surveillance import selectors
from surveillance.demo import demo_write
from surveillance.models import Alert, AlertNote, RuleConfig, ScanCursor
from surveillance.services import (
    alert_annotate,
    alert_assign,
    alert_close,
    alert_escalate,
    owner_group_create,
    scan,
)
from surveillance.tasks import scan_task
from tests.factories import make_account, make_asset

pytestmark = pytest.mark.django_db

_n = iter(range(1, 10**6))


def place(account, side, qty, limit="100", **kw):
    return order_place(account_id=account.pk, actor="test", symbol="AAPL", side=side, qty=str(qty),
                       order_type="limit", limit_price=limit, time_in_force="day", **kw)


def fill(order, qty, price, at=None):
    return execution_apply(venue="TEST", exec_id=f"S{next(_n)}", order_id=order.pk, qty=qty, price=price,
                           transacted_at=at or timezone.now())


@pytest.fixture
def aapl():
    return make_asset("AAPL", price=Decimal("100.00"))


def accounts(n):
    return [make_account(cash="1000000", account_type="margin") for _ in range(n)]


def wash(aapl):
    a, b = accounts(2)
    owner_group_create(name="Owner X", account_ids=[a.pk, b.pk], actor="test")
    fill(place(b, "buy", 50), 50, "100")
    buy, sell = place(a, "buy", 50), place(b, "sell", 50)
    fill(buy, 50, "100")
    fill(sell, 50, "100")
    return a, b, buy, sell


def test_wash_trade_across_one_owners_accounts_is_alerted_with_its_evidence(aapl):
    a, b, buy, sell = wash(aapl)
    result = scan(lag_seconds=0)
    assert result["alerts"] == 1
    alert = Alert.objects.get()
    assert alert.rule == "wash_trade" and alert.status == "open" and alert.symbol == "AAPL"
    assert sorted(alert.accounts) == sorted([str(a.pk), str(b.pk)])
    assert {o["id"] for o in alert.evidence["orders"]} == {str(buy.pk), str(sell.pk)}
    assert len(alert.evidence["executions"]) == 2
    assert [t["event"] for t in alert.evidence["timeline"]].count("executed") == 2
    assert AuditEvent.objects.filter(action="surveillance.alert_raised", entity_id=str(alert.pk)).count() == 1


def test_without_the_owner_link_the_same_trades_are_two_owners(aapl):
    a, b = accounts(2)
    fill(place(b, "buy", 50), 50, "100")
    fill(place(a, "buy", 50), 50, "100")
    fill(place(b, "sell", 50), 50, "100")
    assert scan(lag_seconds=0)["alerts"] == 0


def test_a_rescan_raises_nothing_twice_and_reads_only_new_events(aapl):
    wash(aapl)
    first = scan(lag_seconds=0)
    cursor = ScanCursor.objects.get()
    assert cursor.last_update_id == TradeUpdate.objects.latest("id").id
    assert first["events"] == TradeUpdate.objects.count()
    assert scan(lag_seconds=0)["events"] == 0
    # New events touching the same day and symbol re-evaluate it: the old episode is not raised again.
    other = accounts(1)[0]
    fill(place(other, "buy", 5), 5, "100")
    again = scan(lag_seconds=0)
    assert again["events"] == 2 and again["findings"] >= 1 and again["alerts"] == 0
    assert Alert.objects.count() == 1
    # Even from a rewound cursor (a rescan of everything), the same evidence gives no second alert.
    ScanCursor.objects.update(last_update_id=0)
    assert scan(lag_seconds=0)["alerts"] == 0 and Alert.objects.count() == 1


def test_the_lag_leaves_the_newest_events_for_the_next_scan(aapl):
    wash(aapl)
    assert scan(lag_seconds=3600)["events"] == 0
    assert scan(now=timezone.now() + timedelta(hours=2), lag_seconds=3600)["alerts"] == 1


def test_layering_with_real_cancels(aapl):
    trader = accounts(1)[0]
    fill(place(trader, "buy", 100), 100, "100")
    bids = [place(trader, "buy", 600, limit) for limit in ("99.50", "99.00", "98.50")]
    fill(place(trader, "sell", 100), 100, "100.10")
    for bid in bids:
        order_cancel(account_id=trader.pk, order_id=bid.pk, actor="test")
    # Asked, not yet confirmed by the venue: nothing is cancelled yet.
    assert scan(lag_seconds=0)["alerts"] == 0
    for bid in bids:
        order_venue_canceled(order_id=bid.pk)
    scan(lag_seconds=0)
    alert = Alert.objects.get(rule="spoofing")
    assert alert.metrics["spoof_orders"] == 3 and alert.metrics["spoof_side"] == "buy"
    assert [t["event"] for t in alert.evidence["timeline"]].count("canceled") == 3


def test_a_disabled_rule_and_tuned_parameters(aapl):
    RuleConfig.objects.filter(rule="wash_trade").update(enabled=False)
    wash(aapl)
    assert scan(lag_seconds=0)["alerts"] == 0
    ScanCursor.objects.update(last_update_id=0)
    RuleConfig.objects.filter(rule="wash_trade").update(enabled=True, params={"min_qty": "51"})
    assert scan(lag_seconds=0)["alerts"] == 0
    ScanCursor.objects.update(last_update_id=0)
    RuleConfig.objects.filter(rule="wash_trade").update(params={"min_qty": "50"})
    assert scan(lag_seconds=0)["alerts"] == 1


def test_order_to_trade_and_cancel_ratio_over_real_orders(aapl):
    RuleConfig.objects.filter(rule="order_to_trade").update(params={"min_orders": 5, "max_ratio": "5"})
    RuleConfig.objects.filter(rule="cancel_ratio").update(params={"min_orders": 5})
    trader = accounts(1)[0]
    orders = [place(trader, "buy", 1, "90") for _ in range(6)]
    for order in orders:
        order_cancel(account_id=trader.pk, order_id=order.pk, actor="test")
        order_venue_canceled(order_id=order.pk)
    scan(lag_seconds=0)
    assert set(Alert.objects.values_list("rule", flat=True)) == {"order_to_trade", "cancel_ratio"}


def test_case_workflow_every_step_audited(aapl, django_user_model):
    wash(aapl)
    scan(lag_seconds=0)
    alert = Alert.objects.get()
    staff = django_user_model.objects.create_user(username="analyst", is_staff=True)
    boss = django_user_model.objects.create_user(username="boss", is_staff=True)
    alert_assign(alert_id=alert.pk, user=staff, actor="admin:analyst")
    alert_annotate(alert_id=alert.pk, user=staff, text="same IP, same beneficial owner", actor="admin:analyst")
    with pytest.raises(InvalidInput):
        alert_escalate(alert_id=alert.pk, user=staff, text=" ", actor="admin:analyst")
    alert_escalate(alert_id=alert.pk, user=staff, text="looks deliberate", actor="admin:analyst")
    alert_assign(alert_id=alert.pk, user=boss, actor="admin:boss")
    with pytest.raises(InvalidInput):
        alert_close(alert_id=alert.pk, user=boss, reason="nope", text="x", actor="admin:boss")
    alert_close(alert_id=alert.pk, user=boss, reason="warned", text="client warned in writing", actor="admin:boss")
    alert.refresh_from_db()
    assert alert.status == "closed" and alert.close_reason == "warned" and alert.assignee == boss
    assert list(AlertNote.objects.filter(alert=alert).values_list("kind", flat=True)) == [
        "assigned", "note", "escalated", "assigned", "closed"]
    actions = list(AuditEvent.objects.filter(entity_type="alert", entity_id=str(alert.pk)).order_by("id")
                   .values_list("action", flat=True))
    assert actions == ["surveillance.alert_raised", "surveillance.alert_assigned", "surveillance.alert_note",
                       "surveillance.alert_escalated", "surveillance.alert_assigned", "surveillance.alert_closed"]
    with pytest.raises(Conflict):
        alert_escalate(alert_id=alert.pk, user=boss, text="again", actor="admin:boss")


def test_task_and_command_record_job_runs(aapl):
    from tradex.celery import app  # the Celery app, as the worker and beat load it

    assert app.conf.beat_schedule["surveillance.scan"]["task"] == scan_task.name == "surveillance.scan"
    wash(aapl)
    detail = scan_task.apply().get()
    assert detail["events"] == 0  # the default lag: events of this instant wait for the next run
    call_command("surveillance_scan", "--lag", "0", stdout=open("/dev/null", "w"))
    assert Alert.objects.count() == 1
    assert JobRun.objects.filter(job="surveillance.scan", outcome="ok").count() == 2


def test_the_demo_raises_each_pattern_once(aapl):
    make_asset("AMD", price=Decimal("240.00"))
    made = demo_write(actor="test")
    assert set(Alert.objects.values_list("rule", flat=True)) >= {"wash_trade", "spoofing", "marking_close"}
    assert made["alerts"] == Alert.objects.count()
    assert demo_write(actor="test") == {"skipped": "already written"}
    close = Alert.objects.get(rule="marking_close")
    assert close.trade_date < selectors.ny_date(timezone.now())


def test_the_demo_writes_its_history_under_the_exchange_clock(aapl, settings):
    """seed_demo runs with the default (exchange) market clock, at any hour: the demo's orders are
    booked as routed (orders.services.order_record_routed), never held for the next session."""
    settings.TRADEX_MARKET_CLOCK = "exchange"
    make_asset("AMD", price=Decimal("240.00"))
    made = demo_write(actor="test")
    assert set(Alert.objects.values_list("rule", flat=True)) >= {"wash_trade", "spoofing", "marking_close"}
    assert made["alerts"] == Alert.objects.count()
