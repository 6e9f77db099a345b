"""Celery tasks of market data: thin, idempotent."""
from celery import shared_task

from core.jobs import job_run

from .ticks import store as tickstore


@shared_task(name="marketdata.tick_partitions", acks_late=True)
def tick_partitions_task() -> dict:
    """Day partitions of the tick store created ahead and retired past retention (no-op on
    TimescaleDB, whose policies do this, and on SQLite). Safe to run any number of times; each run
    is recorded for the operations view (core.JobRun)."""
    with job_run("marketdata.tick_partitions") as run:
        run.detail = tickstore.partitions_maintain()
    return run.detail
