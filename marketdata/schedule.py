"""Beat schedule of market data's jobs: a plain dict merged by tradex/celery.py."""
from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Hourly: cheap when nothing is due, and a missed run is made up within the hour.
    "marketdata.tick_partitions": {"task": "marketdata.tick_partitions", "schedule": crontab(minute=5)},
}
