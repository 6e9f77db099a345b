"""Celery tasks of market data: thin, idempotent."""
from celery import shared_task

from . import tickstore


@shared_task(name="marketdata.tick_partitions", acks_late=True)
def tick_partitions_task() -> dict:
    """Day partitions of the tick store created ahead and retired past retention (no-op on
    TimescaleDB, whose policies do this, and on SQLite). Safe to run any number of times."""
    return tickstore.partitions_maintain()
