"""Beat schedule of the surveillance scan (surveillance/tasks.py): a plain dict (no Django import)
merged by tradex/celery.py."""
BEAT_SCHEDULE = {
    # Incremental: each run reads only the order events written since the last one.
    "surveillance.scan": {"task": "surveillance.scan", "schedule": 60.0},
}
