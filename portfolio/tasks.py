"""Thin Celery tasks (each calls one service; all are idempotent, so a retry is harmless)."""
from celery import shared_task


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def equity_snapshot_intraday() -> int:
    from .history import equity_snapshots_record

    return equity_snapshots_record(kind="intraday")


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def equity_snapshot_eod() -> int:
    from .history import equity_snapshots_record

    return equity_snapshots_record(kind="eod")


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def margin_calls_enforce() -> int:
    """Liquidate margin calls past their deadline (the monitor handles the second threshold)."""
    from .margin import margin_calls_enforce as enforce

    return len(enforce())
