"""Beat schedule of the workflows' jobs: a plain dict merged by tradex/celery.py (importing it
loads no Django)."""

BEAT_SCHEDULE = {
    "portfolio-margin-calls": {"task": "portfolio.tasks.margin_calls_enforce", "schedule": 60.0},
}
