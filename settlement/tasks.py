"""Celery tasks: thin, idempotent, each calls one service (settlement/services.py)."""
from celery import shared_task

from core.jobs import job_run

from .services import settle_due

# A run stops starting batches after this long; beat starts the next one (SETTLEMENT_BEAT).
RUN_BUDGET_SECONDS = 50


@shared_task(name="settlement.settle_due", acks_late=True)
def settle_due_task(as_of: str | None = None, batch_size: int = 500) -> dict:
    from datetime import date

    with job_run("settlement.settle_due") as run:
        result = settle_due(as_of=date.fromisoformat(as_of) if as_of else None, batch_size=batch_size,
                            time_budget=RUN_BUDGET_SECONDS)
        run.detail = {"batches": result.batches, "settled": result.settled, "busy": result.busy}
    return run.detail


@shared_task(name="settlement.restrictions_expire", acks_late=True)
def restrictions_expire_task() -> dict:
    from . import calendar
    from .services import restrictions_expire

    with job_run("settlement.restrictions_expire") as run:
        run.detail = {"lifted": restrictions_expire(today=calendar.today())}
    return run.detail


@shared_task(name="settlement.corporate_actions", acks_late=True)
def corporate_actions_task(today: str | None = None) -> dict:
    from datetime import date

    from . import calendar
    from .corporate_actions import corporate_actions_run

    with job_run("settlement.corporate_actions") as run:
        run.detail = corporate_actions_run(today=date.fromisoformat(today) if today else calendar.today())
    return run.detail


@shared_task(name="settlement.reconcile", acks_late=True)
def reconcile_task(day: str | None = None) -> dict:
    """Each venue's drop copy of the trade date (default: today in New York) against the broker."""
    from datetime import date

    from . import calendar
    from .reconciliation import reconcile_all

    with job_run("settlement.reconcile") as run:
        runs = reconcile_all(day=date.fromisoformat(day) if day else calendar.today())
        run.detail = {r.venue: {"result": r.result, "breaks": r.breaks} for r in runs}
    return run.detail


@shared_task(name="settlement.confirmations", acks_late=True)
def confirmations_task() -> dict:
    """Confirmations for new executions, a chunk at a time, until none is missing."""
    from .documents import confirmations_generate

    with job_run("settlement.confirmations") as run:
        made = total = 0
        while (made := confirmations_generate()):
            total += made
        run.detail = {"made": total}
    return run.detail


@shared_task(name="settlement.statements", acks_late=True)
def statements_task(month: str | None = None) -> dict:
    from . import calendar
    from .documents import previous_month, statements_generate

    month = month or previous_month(calendar.today())
    with job_run("settlement.statements") as run:
        run.detail = {"month": month, "made": statements_generate(month=month)}
    return run.detail


@shared_task(name="settlement.tax_reports", acks_late=True)
def tax_reports_task(year: int | None = None) -> dict:
    from . import calendar
    from .documents import tax_reports_generate

    year = year or calendar.today().year - 1
    with job_run("settlement.tax_reports") as run:
        run.detail = {"year": year, "made": tax_reports_generate(year=year)}
    return run.detail
