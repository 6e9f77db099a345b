"""Reconciliation of each venue's end-of-day drop copy (core/wire/dropcopy.py) with the
broker's executions: every difference becomes a ReconciliationBreak in the admin's review queue;
a day without any records a clean run. Nothing is corrected here.

Matching is by (venue, exec_id), the key that makes executions exactly-once (invariant 3); then
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

from .models import ReconciliationBreak, ReconciliationRun

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
    from orders.models import Execution

    start = datetime.combine(day, time(0), NEW_YORK)
    rows = Execution.objects.filter(venue=venue, transacted_at__gte=start, transacted_at__lt=start + timedelta(days=1))
    return {e.exec_id: _Row(e.exec_id, e.symbol, e.side, e.qty, e.price, e.pk) for e in rows}


def _venue_rows(path: Path) -> dict[str, _Row]:
    from core.wire.dropcopy import read_drop_copy  # plain Python: the broker may import the simulator's formats

    return {r["exec_id"]: _Row(r["exec_id"], r["symbol"], r["side"], Decimal(r["qty"]), Decimal(r["price"]))
            for r in read_drop_copy(path)}


@transaction.atomic(durable=True)
def reconcile_venue_day(*, venue: str, day: date, path: Path | None = None) -> ReconciliationRun:
    from core.wire.dropcopy import drop_copy_path

    path = path or drop_copy_path(drop_copy_dir(venue), venue, day)
    broker = _broker_rows(venue, day)
    if not path.exists():
        run = ReconciliationRun.objects.create(venue=venue, trade_date=day, result=ReconciliationRun.Result.NO_FILE,
                                               broker_executions=len(broker), source=str(path)[:300])
        _audit(run)
        return run
    theirs = _venue_rows(path)
    found: list[ReconciliationBreak] = []

    def brk(kind, **fields):
        found.append(ReconciliationBreak(kind=kind, venue=venue, **fields))

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
    run = ReconciliationRun.objects.create(
        venue=venue, trade_date=day, result=ReconciliationRun.Result.BREAKS if found else ReconciliationRun.Result.CLEAN,
        venue_executions=len(theirs), broker_executions=len(broker), breaks=len(found), source=str(path)[:300])
    for b in found:
        b.run = run
    ReconciliationBreak.objects.bulk_create(found)
    _audit(run)
    return run


def _audit(run: ReconciliationRun) -> None:
    audit_record(account_id=None, actor="reconciliation", action=f"reconciliation.{run.result}",
                 entity_type="reconciliation_run", entity_id=run.pk,
                 data={"venue": run.venue, "trade_date": run.trade_date.isoformat(), "breaks": run.breaks,
                       "venue_executions": run.venue_executions, "broker_executions": run.broker_executions})


def reconcile_all(*, day: date) -> list[ReconciliationRun]:
    from orders.models import Venue

    return [reconcile_venue_day(venue=name, day=day) for name in Venue.objects.order_by("name").values_list("name", flat=True)]


@transaction.atomic
def break_resolve(*, break_id: int, actor: str, resolution: str) -> ReconciliationBreak:
    """Staff close a break with what they did about it (a correction goes through its own service)."""
    from django.utils import timezone

    from core.errors import InvalidInput

    if not resolution.strip():
        raise InvalidInput("missing_resolution", "say how the break was resolved")
    row = ReconciliationBreak.objects.select_for_update().get(pk=break_id)
    if row.status == ReconciliationBreak.Status.RESOLVED:
        return row
    row.status, row.resolved_by, row.resolution, row.resolved_at = (
        ReconciliationBreak.Status.RESOLVED, actor[:150], resolution[:300], timezone.now())
    row.save(update_fields=["status", "resolved_by", "resolution", "resolved_at"])
    audit_record(account_id=None, actor=actor, action="reconciliation.break_resolved", entity_type="reconciliation_break",
                 entity_id=row.pk, data={"kind": row.kind, "exec_id": row.exec_id, "resolution": resolution})
    return row
