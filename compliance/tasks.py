"""Celery task of the compliance app: retention touches only compliance's tables."""
from celery import shared_task

from core.jobs import job_run

from .retention import retention_run


@shared_task(name="compliance.retention", acks_late=True)
def retention_task() -> dict:
    """Export audit events that left the accessible window, verify the archives, purge what passed
    retention (compliance/retention.py)."""
    with job_run("compliance.retention") as run:
        run.detail = retention_run()
    return run.detail
