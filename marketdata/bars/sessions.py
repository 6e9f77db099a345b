"""Which session a trade belongs to, for daily bars.

A daily bar is keyed by its session date (XNYS, exchange-calendars), stored as the UTC instant of
New York midnight of that date, as Alpaca stamps daily bars ("2024-01-03T05:00:00Z"). A trade
belongs to the session of its New York calendar date, pre-market and after-hours included; a trade
on a day with no session (a weekend or holiday, which only the always-open demo venues print)
rolls into the next session's bar, so daily bars exist only for real sessions.
"""
from bisect import bisect_left
from datetime import date, datetime, time, timezone
from functools import lru_cache

from marketdata.calendar import NEW_YORK, _table

UTC = timezone.utc


def _dates() -> list[date]:
    return _table()[1]


@lru_cache(maxsize=4096)
def _session_on_or_after(day: date) -> date:
    dates = _dates()
    i = bisect_left(dates, day)
    return dates[i] if i < len(dates) else day


def session_date(ts: datetime) -> date:
    return _session_on_or_after(ts.astimezone(NEW_YORK).date())


@lru_cache(maxsize=4096)
def daily_start(day: date) -> datetime:
    """UTC instant of New York midnight of `day` (04:00Z in summer, 05:00Z in winter)."""
    return datetime.combine(day, time(0), NEW_YORK).astimezone(UTC)
