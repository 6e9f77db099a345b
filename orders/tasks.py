"""Celery tasks of orders: thin, idempotent."""
from celery import shared_task

from core.jobs import job_run

from .events import trade_updates_prune


@shared_task(name="orders.trade_updates_prune", acks_late=True)
def trade_updates_prune_task() -> dict:
    """Trade updates past their retention deleted (each account's latest row kept). Recorded for
    the operations view (core.JobRun)."""
    with job_run("orders.trade_updates_prune") as run:
        run.detail = {"deleted": trade_updates_prune()}
    return run.detail
