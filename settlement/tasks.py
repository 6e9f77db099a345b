"""Celery tasks: thin, idempotent, each calls one service (settlement/services.py). The
corporate-actions, reconciliation and document tasks are the workflows' (workflows/tasks.py)."""
from datetime import date

from celery import shared_task

from core.jobs import job_run

from . import calendar
from .services import restrictions_expire, settle_due

# A run stops starting batches after this long; beat starts the next one (settlement/schedule.py).
RUN_BUDGET_SECONDS = 50


@shared_task(name="settlement.settle_due", acks_late=True)
def settle_due_task(as_of: str | None = None, batch_size: int = 500) -> dict:
    with job_run("settlement.settle_due") as run:
        result = settle_due(as_of=date.fromisoformat(as_of) if as_of else None, batch_size=batch_size,
                            time_budget=RUN_BUDGET_SECONDS)
        run.detail = {"batches": result.batches, "settled": result.settled, "busy": result.busy}
    return run.detail


@shared_task(name="settlement.restrictions_expire", acks_late=True)
def restrictions_expire_task() -> dict:
    with job_run("settlement.restrictions_expire") as run:
        run.detail = {"lifted": restrictions_expire(today=calendar.today())}
    return run.detail
