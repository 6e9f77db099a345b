"""Beat schedule of compliance's jobs (compliance/tasks.py): a plain dict (no Django import)
merged by tradex/celery.py."""
from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Daily at 04:15 UTC, outside US trading hours: archive, verify, purge past retention.
    "compliance.retention": {"task": "compliance.retention", "schedule": crontab(hour=4, minute=15)},
}
