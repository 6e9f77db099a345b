"""Beat schedule of settlement's jobs: a plain dict (no Django import) merged by tradex/celery.py."""
from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Continuous: obligations settle as soon as they are due, a small batch at a time.
    "settlement.settle_due": {"task": "settlement.settle_due", "schedule": 30.0},
    "settlement.restrictions_expire": {"task": "settlement.restrictions_expire", "schedule": 3600.0},
    # Daily, before the open (11:00 UTC is 06:00/07:00 in New York): splits, dividend holders, payments.
    "settlement.corporate_actions": {"task": "settlement.corporate_actions", "schedule": crontab(hour=11, minute=0)},
}
