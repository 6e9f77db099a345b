"""Reconciliation of each venue's end-of-day drop copy (core/wire/dropcopy.py) with the
broker's executions (orders): every difference becomes one of settlement's ReconciliationBreak
rows, in the admin's review queue; a day without any records a clean run. The run and its breaks
are written through settlement.services.reconciliation_run_record; staff resolve a break with
settlement.services.break_resolve. Nothing is corrected here.

Matching is by (venue, exec_id), the key that makes executions exactly-once; then
quantity, price, symbol and side are compared. Comparing every execution is complete: the day's
net shares per symbol (the positions' movement) can only differ if one of these breaks exists.
"""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction

from compliance.services import audit_record
from core.wire.dropcopy import drop_copy_path, read_drop_copy
from orders.models import Execution, Venue
from settlement.models import ReconciliationRun
from settlement.services import reconciliation_run_record

NEW_YORK = ZoneInfo("America/New_York")
ZERO = Decimal(0)


def drop_copy_dir(venue: str) -> Path:
    """Where `run_venues` has the venue write its drop copies (settings.TRADEX_DROP_COPY_DIR overrides)."""
    base = getattr(settings, "TRADEX_DROP_COPY_DIR", None)
    return Path(base) if base else Path(settings.VAR_DIR) / "venues" / venue / "dropcopy"


@dataclass(frozen=True)
class _Row:
    exec_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    execution_id: object = None


def _broker_rows(venue: str, day: date) -> dict[str, _Row]:
    start = datetime.combine(day, time(0), NEW_YORK)
    rows = Execution.objects.filter(venue=venue, transacted_at__gte=start, transacted_at__lt=start + timedelta(days=1))
    return {e.exec_id: _Row(e.exec_id, e.symbol, e.side, e.qty, e.price, e.pk) for e in rows}


def _venue_rows(path: Path) -> dict[str, _Row]:
    return {r["exec_id"]: _Row(r["exec_id"], r["symbol"], r["side"], Decimal(r["qty"]), Decimal(r["price"]))
            for r in read_drop_copy(path)}


@transaction.atomic(durable=True)
def reconcile_venue_day(*, venue: str, day: date, path: Path | None = None) -> ReconciliationRun:
    path = path or drop_copy_path(drop_copy_dir(venue), venue, day)
    broker = _broker_rows(venue, day)
    if not path.exists():
        run = reconciliation_run_record(venue=venue, trade_date=day, result=ReconciliationRun.Result.NO_FILE,
                                        broker_executions=len(broker), source=str(path)[:300])
        _audit(run)
        return run
    theirs = _venue_rows(path)
    found: list[dict] = []

    def brk(kind, **fields):
        found.append({"kind": kind, **fields})

    for exec_id, v in sorted(theirs.items()):
        b = broker.get(exec_id)
        if b is None:
            brk("missing", exec_id=exec_id, symbol=v.symbol, venue_qty=v.qty, venue_price=v.price,
                detail=f"venue {v.side} {v.qty} {v.symbol} @ {v.price}; no broker execution")
            continue
        common = dict(exec_id=exec_id, symbol=v.symbol, venue_qty=v.qty, broker_qty=b.qty, venue_price=v.price,
                      broker_price=b.price, execution_id=b.execution_id)
        if (v.symbol, v.side) != (b.symbol, b.side):
            brk("detail", **common, detail=f"venue {v.side} {v.symbol}, broker {b.side} {b.symbol}")
        if v.qty != b.qty:
            brk("qty", **common, detail=f"venue {v.qty}, broker {b.qty}")
        if v.price != b.price:
            brk("price", **common, detail=f"venue {v.price}, broker {b.price}")
    for exec_id, b in sorted(broker.items()):
        if exec_id not in theirs:
            brk("extra", exec_id=exec_id, symbol=b.symbol, broker_qty=b.qty, broker_price=b.price,
                execution_id=b.execution_id, detail=f"broker {b.side} {b.qty} {b.symbol} @ {b.price}; not at the venue")
    run = reconciliation_run_record(
        venue=venue, trade_date=day, result=ReconciliationRun.Result.BREAKS if found else ReconciliationRun.Result.CLEAN,
        venue_executions=len(theirs), broker_executions=len(broker), source=str(path)[:300], breaks=found)
    _audit(run)
    return run


def _audit(run: ReconciliationRun) -> None:
    audit_record(account_id=None, actor="reconciliation", action=f"reconciliation.{run.result}",
                 entity_type="reconciliation_run", entity_id=run.pk,
                 data={"venue": run.venue, "trade_date": run.trade_date.isoformat(), "breaks": run.breaks,
                       "venue_executions": run.venue_executions, "broker_executions": run.broker_executions})


def reconcile_all(*, day: date) -> list[ReconciliationRun]:
    return [reconcile_venue_day(venue=name, day=day) for name in Venue.objects.order_by("name").values_list("name", flat=True)]

