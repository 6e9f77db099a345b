"""Beat schedule of settlement's jobs: a plain dict (no Django import) merged by tradex/celery.py."""

BEAT_SCHEDULE = {
    # Continuous: obligations settle as soon as they are due, a small batch at a time.
    "settlement.settle_due": {"task": "settlement.settle_due", "schedule": 30.0},
    "settlement.restrictions_expire": {"task": "settlement.restrictions_expire", "schedule": 3600.0},
}
