"""Beat schedule of orders' jobs: a plain dict merged by tradex/celery.py."""
from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Daily, at a quiet hour (08:15 UTC: 03:15/04:15 in New York).
    "orders.trade_updates_prune": {"task": "orders.trade_updates_prune", "schedule": crontab(hour=8, minute=15)},
}
