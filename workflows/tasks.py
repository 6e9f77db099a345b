"""Celery tasks of the cross-app workflows: thin, idempotent, each calls one workflow. The task
names keep their historical "settlement." prefix: beat schedules (workflows/schedule.py) and job
runs (JobRun.job) refer to them."""
from datetime import date

from celery import shared_task

from core.jobs import job_run
from settlement import calendar

from .corporate_actions import corporate_actions_run
from .documents import confirmations_generate, previous_month, statements_generate, tax_reports_generate
from .reconciliation import reconcile_all


@shared_task(name="settlement.corporate_actions", acks_late=True)
def corporate_actions_task(today: str | None = None) -> dict:
    with job_run("settlement.corporate_actions") as run:
        run.detail = corporate_actions_run(today=date.fromisoformat(today) if today else calendar.today())
    return run.detail


@shared_task(name="settlement.reconcile", acks_late=True)
def reconcile_task(day: str | None = None) -> dict:
    """Each venue's drop copy of the trade date (default: today in New York) against the broker."""
    with job_run("settlement.reconcile") as run:
        runs = reconcile_all(day=date.fromisoformat(day) if day else calendar.today())
        run.detail = {r.venue: {"result": r.result, "breaks": r.breaks} for r in runs}
    return run.detail


@shared_task(name="settlement.confirmations", acks_late=True)
def confirmations_task() -> dict:
    """Confirmations for new executions, a chunk at a time, until none is missing."""
    with job_run("settlement.confirmations") as run:
        made = total = 0
        while (made := confirmations_generate()):
            total += made
        run.detail = {"made": total}
    return run.detail


@shared_task(name="settlement.statements", acks_late=True)
def statements_task(month: str | None = None) -> dict:
    month = month or previous_month(calendar.today())
    with job_run("settlement.statements") as run:
        run.detail = {"month": month, "made": statements_generate(month=month)}
    return run.detail


@shared_task(name="settlement.tax_reports", acks_late=True)
def tax_reports_task(year: int | None = None) -> dict:
    year = year or calendar.today().year - 1
    with job_run("settlement.tax_reports") as run:
        run.detail = {"year": year, "made": tax_reports_generate(year=year)}
    return run.detail
