"""seed_demo's bars history options (tradex/management/commands/seed_demo.py calls these).

Defaults, measured (docs/marketdata-bars.md): on PostgreSQL a year of daily and 1-minute bars
(binary COPY, ~6.7M rows for the 68 demo symbols); on SQLite (embedded `make run`) a year of daily
bars and the last EMBEDDED_MINUTE_DAYS sessions of 1-minute bars, so that `make run` starts fast.
"""
import time
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from core.wire.listing import reference_specs

from ..models import Asset
from .backfill import bars_backfill

EMBEDDED_MINUTE_DAYS = 5


def add_backfill_arguments(parser) -> None:
    group = parser.add_argument_group("bars history")
    group.add_argument("--no-backfill", action="store_true", help="write no bars history")
    group.add_argument("--backfill-days", type=int, default=365, help="calendar days of history (default 365)")
    group.add_argument("--backfill-minute-days", type=int, default=None,
                       help="sessions of 1-minute bars (default: all on PostgreSQL, "
                            f"{EMBEDDED_MINUTE_DAYS} on SQLite)")
    group.add_argument("--backfill-seed", type=int, default=42, help="seed of the price walk (as run_venues)")


def backfill_from_options(command, options) -> None:
    if options.get("no_backfill"):
        return
    prices = {a.symbol: a.last_price for a in Asset.objects.exclude(last_price=None) if a.last_price > 0}
    minute_days = options.get("backfill_minute_days")
    if minute_days is None and connection.vendor != "postgresql":
        minute_days = EMBEDDED_MINUTE_DAYS
    began = time.perf_counter()
    done = bars_backfill(specs=reference_specs({s: Decimal(p) for s, p in prices.items()}), now=timezone.now(),
                         seed=options.get("backfill_seed", 42), days=options.get("backfill_days", 365),
                         minute_days=minute_days)
    seconds = time.perf_counter() - began
    rows = done["minute_bars"] + done["daily_bars"]
    command.stdout.write(
        f"bars history {done['first_session']}..{done['last_session']}: {done['symbols']} symbols written "
        f"({done['minute_bars']:,} 1-minute bars over the last {done['minute_sessions']} sessions, "
        f"{done['daily_bars']:,} daily), {done['skipped']} already present, in {seconds:.1f} s"
        + (f" ({rows / seconds:,.0f} rows/s)" if rows and seconds else ""))
