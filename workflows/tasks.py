"""Celery tasks of the cross-app workflows: thin, idempotent, each calls one workflow. Task names
keep the prefix of the app that first held the work ("settlement.", "portfolio.tasks."): beat
schedules (workflows/schedule.py), queued messages and job runs (JobRun.job) refer to them."""
from datetime import date

import orjson
from celery import shared_task

from core.jobs import job_run
from settlement import calendar

from .cat_report import cat_report_write, previous_trading_day, report_dir
from .corporate_actions import corporate_actions_run
from .documents import (
    confirmations_generate,
    previous_month,
    statements_generate,
    tax_reports_generate,
)
from .margin_calls import margin_calls_enforce as enforce
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


@shared_task(name="portfolio.tasks.margin_calls_enforce", autoretry_for=(Exception,), retry_backoff=True,
             max_retries=5)
def margin_calls_enforce() -> int:
    """Liquidate margin calls past their deadline (the monitor handles the second threshold)."""
    return len(enforce())


@shared_task(name="workflows.cat_report", acks_late=True)
def cat_report_task(day: str | None = None, force: bool = False) -> dict:
    """The CAT file of a trading day (default: the last one before today in New York). Idempotent:
    a day whose file is already written and complete is left as it is unless `force`. An incomplete
    file fails the run (JobRun failed, a `cat.report_incomplete` audit event)."""
    trading_day = date.fromisoformat(day) if day else previous_trading_day(calendar.today())
    with job_run("workflows.cat_report") as run:
        done = report_dir(trading_day) / "manifest.json"
        if not force and done.exists() and orjson.loads(done.read_bytes())["completeness"]["complete"]:
            run.detail = {"day": trading_day.isoformat(), "skipped": "already written"}
        else:
            manifest = cat_report_write(trading_day)
            run.detail = {"day": trading_day.isoformat(), "rows": manifest["rows"], "sha256": manifest["sha256"],
                          "by_type": manifest["by_type"], "clock_over_tolerance": manifest["clock"]["over_tolerance"]}
    return run.detail
