"""The surveillance scan as a Celery task (beat: surveillance/schedule.py), recorded as a job run."""
from celery import shared_task

from core.jobs import job_run

from .services import scan


@shared_task(name="surveillance.scan", acks_late=True)
def scan_task() -> dict:
    """Every order event and execution written since the last scan, through every enabled rule."""
    with job_run("surveillance.scan") as run:
        run.detail = scan()
    return run.detail
