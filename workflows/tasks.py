"""Thin Celery tasks of the workflows (each calls one function; all are idempotent, so a retry is
harmless). Task names are explicit: they were registered under the app that used to hold the work,
and beat schedules and queued messages name them."""
from celery import shared_task

from .margin_calls import margin_calls_enforce as enforce


@shared_task(name="portfolio.tasks.margin_calls_enforce", autoretry_for=(Exception,), retry_backoff=True,
             max_retries=5)
def margin_calls_enforce() -> int:
    """Liquidate margin calls past their deadline (the monitor handles the second threshold)."""
    return len(enforce())
