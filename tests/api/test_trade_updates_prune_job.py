"""The trade-updates retention runs as a daily beat job, recorded like every back-office job.

Before: trade_updates_prune existed and its docs said it was scheduled, but no beat entry ran it,
so the table only grew."""
from datetime import timedelta

from core.models import JobRun
from orders.models import TradeUpdate
from orders.tasks import trade_updates_prune_task
from tradex.celery import app


def test_beat_runs_the_prune_daily():
    entry = app.conf.beat_schedule["orders.trade_updates_prune"]
    assert entry["task"] == "orders.trade_updates_prune" == trade_updates_prune_task.name
    assert entry["schedule"].hour == {8} and entry["schedule"].minute == {15}


def test_the_job_prunes_past_retention_and_records_its_run(alice, aapl, settings):
    for _ in range(3):
        alice.place()
    settings.TRADE_UPDATES_RETENTION_DAYS = 1
    TradeUpdate.objects.update(created_at=TradeUpdate.objects.order_by("seq").first().created_at - timedelta(days=2))

    assert trade_updates_prune_task.apply().get() == {"deleted": 2}

    assert list(TradeUpdate.objects.values_list("seq", flat=True)) == [3]  # each account's latest stays
    run = JobRun.objects.get(job="orders.trade_updates_prune")
    assert (run.outcome, run.detail) == ("ok", {"deleted": 2})
