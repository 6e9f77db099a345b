"""Thin Celery tasks (each calls one service; all are idempotent, so a retry is harmless)."""
from celery import shared_task

from .history import equity_snapshots_record


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def equity_snapshot_intraday() -> int:
    return equity_snapshots_record(kind="intraday")


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def equity_snapshot_eod() -> int:
    return equity_snapshots_record(kind="eod")
