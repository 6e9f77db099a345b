"""Equity snapshots (recorded by Celery: intraday every TRADEX_EQUITY_SNAPSHOT_SECONDS, and at the
end of each day) and Alpaca's portfolio history read from them."""
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from accounts.models import Account
from core.errors import InvalidInput
from core.values import RATIO_PLACES, money, round_to
from marketdata.selectors import last_prices
from risk.margin import long_market_value, marks, short_market_value

from .models import EquitySnapshot, Position

ZERO = Decimal(0)
CHUNK = 2000
TIMEFRAMES = {"1Min": 60, "5Min": 300, "15Min": 900, "1H": 3600, "1D": 86400}
PERIOD_UNITS = {"D": 1, "W": 7, "M": 30, "A": 365}
_PERIOD = re.compile(r"^([1-9][0-9]{0,3})([DWMA])$")


def snapshot_time(kind: str, now: datetime) -> datetime:
    """Intraday snapshots are stamped at the start of their interval (so a retried task writes the
    same row); end-of-day ones at midnight UTC of their date."""
    if kind == EquitySnapshot.Kind.EOD:
        return datetime.combine(now.date(), time(0), tzinfo=dt_timezone.utc)
    step = settings.TRADEX_EQUITY_SNAPSHOT_SECONDS
    return datetime.fromtimestamp(int(now.timestamp()) // step * step, tz=dt_timezone.utc)


def equity_snapshots_record(*, kind: str, now: datetime | None = None, chunk: int = CHUNK) -> int:
    """Every account's equity now, in chunks of accounts (one query for their positions and one
    batch price read per chunk); idempotent: a rerun for the same interval inserts nothing.
    Returns rows written."""
    if kind not in EquitySnapshot.Kind.values:
        raise InvalidInput("invalid_kind", f"kind must be one of {', '.join(EquitySnapshot.Kind.values)}")
    at = snapshot_time(kind, now or timezone.now())
    existing = EquitySnapshot.objects.filter(kind=kind, at=at).count()
    after = None
    while True:
        accounts = Account.objects.order_by("pk")
        if after is not None:
            accounts = accounts.filter(pk__gt=after)
        rows = list(accounts.values_list("pk", "settled_cash", "unsettled_cash")[:chunk])
        if not rows:
            return EquitySnapshot.objects.filter(kind=kind, at=at).count() - existing
        after = rows[-1][0]
        held: dict = {}
        for account_id, symbol, qty, avg in (Position.objects.filter(account_id__in=[r[0] for r in rows])
                                             .exclude(qty=0).values_list("account_id", "symbol", "qty", "avg_entry_price")):
            held.setdefault(account_id, []).append((symbol, qty, avg))
        prices = last_prices({s for positions in held.values() for s, _, _ in positions})
        snaps = []
        for account_id, settled, unsettled in rows:
            positions = held.get(account_id, ())
            marked = marks({symbol: avg for symbol, _, avg in positions}, prices)
            qty = {symbol: q for symbol, q, _ in positions}
            long_mv, short_mv = long_market_value(qty, marked), short_market_value(qty, marked)
            cash = settled + unsettled
            snaps.append(EquitySnapshot(account_id=account_id, kind=kind, at=at, cash=cash,
                                        equity=money(cash + long_mv + short_mv), long_market_value=money(long_mv),
                                        short_market_value=money(short_mv)))
        EquitySnapshot.objects.bulk_create(snaps, ignore_conflicts=True)


@dataclass(frozen=True)
class History:
    timestamp: list[int]
    equity: list[Decimal]
    profit_loss: list[Decimal]
    profit_loss_pct: list[Decimal | None]
    base_value: Decimal | None
    timeframe: str


def _period_days(period: str) -> int:
    match = _PERIOD.match(period)
    if not match:
        raise InvalidInput("invalid_period", "period is a number and a unit: D, W, M or A (e.g. 1D, 2W, 3M, 1A)")
    return int(match.group(1)) * PERIOD_UNITS[match.group(2)]


def portfolio_history(*, account, period: str | None = None, timeframe: str | None = None,
                      date_end: str | None = None, now: datetime | None = None) -> History:
    """Alpaca's GET /v2/account/portfolio/history: equity at the end of each window (left-labeled),
    profit/loss against the first point of the period."""
    days = _period_days(period or "1M")
    if timeframe is None:
        timeframe = "15Min" if days < 7 else "1D"
    if timeframe not in TIMEFRAMES:
        raise InvalidInput("invalid_timeframe", f"timeframe must be one of {', '.join(TIMEFRAMES)}")
    now = now or timezone.now()
    if date_end:
        try:
            end_day = date.fromisoformat(date_end)
        except ValueError:
            raise InvalidInput("invalid_date_end", "date_end must be a date, YYYY-MM-DD") from None
        end = datetime.combine(end_day + timedelta(days=1), time(0), tzinfo=dt_timezone.utc)
    else:
        end = now
    start = end - timedelta(days=days)
    step = TIMEFRAMES[timeframe]
    kind = EquitySnapshot.Kind.EOD if timeframe == "1D" else EquitySnapshot.Kind.INTRADAY
    rows = (EquitySnapshot.objects.filter(account=account, kind=kind, at__gte=start, at__lt=end)
            .order_by("at").values_list("at", "equity"))
    buckets: dict[int, Decimal] = {}
    for at, equity in rows:
        buckets[int(at.timestamp()) // step * step] = equity  # the last snapshot of each window
    stamps = sorted(buckets)
    equity = [buckets[t] for t in stamps]
    base = equity[0] if equity else None
    pl = [e - base for e in equity]
    pct = [round_to(p / base, RATIO_PLACES) if base else None for p in pl]
    return History(stamps, equity, pl, pct, base, timeframe)
