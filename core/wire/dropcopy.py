"""End-of-day drop copy: every customer execution of a venue on one trade date, as a CSV file the
broker's reconciliation job reads (workflows/reconciliation.py). Plain Python: the simulator
never imports the broker.

Trade dates are New York dates. The file is written to a temporary name and renamed, so a reader
never sees half a file; writing the same day again replaces it with the same content.
"""
from __future__ import annotations

import csv
import os
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
COLUMNS = ("venue", "exec_id", "cl_ord_id", "order_id", "symbol", "side", "qty", "price", "transacted_at")
# The day's drop copy is written once New York passes this time (after-hours trading has ended).
END_OF_DAY = time(20, 0)


def trade_date(ts: datetime) -> date:
    return ts.astimezone(NEW_YORK).date()


def drop_copy_path(directory: str | os.PathLike, venue: str, day: date) -> Path:
    return Path(directory) / f"{venue}-{day.isoformat()}.csv"


def write_drop_copy(venue, day: date, directory: str | os.PathLike) -> Path:
    """Write `venue`'s customer executions of trade date `day`; returns the file's path."""
    path = drop_copy_path(directory, venue.name, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for fill in venue.customer_fills():
            if trade_date(fill.ts) == day:
                writer.writerow((venue.name, fill.exec_id, fill.cl_ord_id, fill.order_id, fill.symbol, fill.side,
                                 str(fill.last_qty), str(fill.last_px), fill.ts.isoformat()))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def read_drop_copy(path: str | os.PathLike) -> list[dict]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{path}: not a drop copy (columns {reader.fieldnames})")
        return list(reader)


def due_drop_copy(now: datetime, last_written: date | None) -> date | None:
    """The trade date whose drop copy is due at `now` (past END_OF_DAY in New York) and not yet
    written, else None."""
    local = now.astimezone(NEW_YORK)
    day = local.date()
    if local.time() >= END_OF_DAY and last_written != day:
        return day
    return None
