"""Beat schedule of the workflows' jobs (workflows/tasks.py): a plain dict (no Django import)
merged by tradex/celery.py. Task names keep the prefix of the app that first held the work."""
from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Daily, before the open (11:00 UTC is 06:00/07:00 in New York): splits, dividend holders, payments.
    "settlement.corporate_actions": {"task": "settlement.corporate_actions", "schedule": crontab(hour=11, minute=0)},
    # After the venues' end-of-day drop copies (20:00 New York = 00:00/01:00 UTC): 01:30 UTC,
    # reconciling the New York trade date that just ended (the task's default date is today in
    # New York, which at 01:30 UTC is still that date).
    "settlement.reconcile": {"task": "settlement.reconcile", "schedule": crontab(hour=1, minute=30)},
    # Documents: confirmations continuously (T+1 delivery is the rule's latest), statements on the
    # 1st for the month before, tax reports on 15 January for the year before.
    "settlement.confirmations": {"task": "settlement.confirmations", "schedule": 60.0},
    "settlement.statements": {"task": "settlement.statements", "schedule": crontab(day_of_month=1, hour=6, minute=0)},
    "settlement.tax_reports": {"task": "settlement.tax_reports",
                               "schedule": crontab(month_of_year=1, day_of_month=15, hour=7, minute=0)},
    # The CAT file of the last trading day, due by 08:00 New York: 11:30 UTC is 06:30/07:30 there.
    # Daily (a day that already has a complete file is skipped), so a holiday delays nothing.
    "workflows.cat_report": {"task": "workflows.cat_report", "schedule": crontab(hour=11, minute=30)},
    "portfolio-margin-calls": {"task": "portfolio.tasks.margin_calls_enforce", "schedule": 60.0},
}
