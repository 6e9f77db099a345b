"""Operations in the admin: settlement status by date with the T+1 misses and each job's last
run; corporate actions entered by staff (audited); the reconciliation review queue."""
from datetime import timedelta

import pytest
from django.urls import reverse

from compliance.models import AuditEvent
from settlement import calendar
from core.jobs import job_run
from core.models import JobRun
from settlement.models import CorporateAction, Obligation
from settlement.services import settle_due

from .helpers import at, trade

pytestmark = pytest.mark.django_db(transaction=True)


def test_operations_view_shows_status_by_date_misses_and_jobs(admin_client, account, aapl):
    today = calendar.today()
    days = [d for d in (today - timedelta(days=n) for n in range(10, 0, -1)) if calendar.is_settlement_day(d)]
    trade(account, "buy", 1, "100", when=at(days[0].isoformat()))  # due long ago, never settled: a miss
    trade(account, "buy", 1, "100", when=at(days[-1].isoformat()))
    with job_run("settlement.settle_due") as run:
        run.detail = {"settled": settle_due(as_of=days[-1], batch_size=10).settled}
    Obligation.objects.filter(trade_date=days[-1]).update(status="pending", settled_at=None)  # reopened for the view
    page = admin_client.get(reverse("admin:settlement_operations"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "T+1 deadline misses: " in html and "settlement.settle_due" in html
    late = Obligation.objects.get(trade_date=days[0])
    assert late.status == "settled"  # settled by the run, but after its date: counted late
    assert page.context["misses"] >= 1
    assert JobRun.objects.get().outcome == "ok"


def test_staff_enter_a_split_and_the_entry_is_audited(admin_client):
    response = admin_client.post(reverse("admin:settlement_corporateaction_add"), {
        "symbol": "AAPL", "kind": "split", "new_shares": "2", "old_shares": "1", "ex_date": "2025-10-09",
        "notes": "", "applications-TOTAL_FORMS": "0", "applications-INITIAL_FORMS": "0"})
    assert response.status_code == 302, response.content
    action = CorporateAction.objects.get()
    assert action.status == "pending"
    assert AuditEvent.objects.filter(action="corporateaction.created", entity_id=str(action.pk)).exists()
    # A split without its ratio is refused by the form, and nothing is written.
    response = admin_client.post(reverse("admin:settlement_corporateaction_add"), {
        "symbol": "MSFT", "kind": "split", "ex_date": "2025-10-09", "notes": "",
        "applications-TOTAL_FORMS": "0", "applications-INITIAL_FORMS": "0"})
    assert response.status_code == 200 and CorporateAction.objects.count() == 1


def test_staff_resolve_a_break_in_the_review_queue_with_a_note(admin_client, account):
    from settlement.models import ReconciliationBreak, ReconciliationRun

    run = ReconciliationRun.objects.create(venue="SIMA", trade_date="2025-10-08", result="breaks", breaks=1)
    brk = ReconciliationBreak.objects.create(run=run, kind="missing", venue="SIMA", exec_id="E9", symbol="AAPL",
                                             venue_qty=1, venue_price=100)
    change = reverse("admin:settlement_reconciliationbreak_change", args=[brk.pk])
    assert admin_client.get(reverse("admin:settlement_reconciliationbreak_changelist")).status_code == 200
    admin_client.post(change, {"resolution": ""})
    brk.refresh_from_db()
    assert brk.status == "open"  # no note, no resolution
    admin_client.post(change, {"resolution": "fill booked late by the bridge; confirmed with the venue"})
    brk.refresh_from_db()
    assert (brk.status, brk.resolved_by) == ("resolved", "admin:admin")
    assert AuditEvent.objects.filter(action="reconciliation.break_resolved", entity_id=str(brk.pk)).exists()
