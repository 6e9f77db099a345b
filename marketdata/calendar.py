"""NYSE trading sessions from exchange_calendars (XNYS): holidays and early closes included.

The schedule is read once per process into plain lists searched by bisection. With pandas 3,
exchange_calendars 4.11's session helpers (sessions_in_range, sessions_window) fail to parse
dates, so this module uses only its schedule table.
"""
import warnings
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import exchange_calendars

from core.errors import InvalidInput

NEW_YORK = ZoneInfo("America/New_York")
FIRST_DATE = date(2000, 1, 1)
# exchange_calendars builds a year ahead unless told an end: the calendar silently stopped a year
# from today. It is built through the end of the fifth year ahead instead, and
# a request past either end is refused rather than answered short.
YEARS_AHEAD = 5
# Alpaca's extended hours: pre-market from 04:00, after-hours until four hours after the close.
PRE_MARKET_OPEN = time(4, 0)
AFTER_HOURS = timedelta(hours=4)


@dataclass(frozen=True)
class Session:
    date: date
    open: datetime  # UTC
    close: datetime  # UTC, early closes included

    @property
    def session_open(self) -> datetime:
        return datetime.combine(self.date, PRE_MARKET_OPEN, NEW_YORK)

    @property
    def session_close(self) -> datetime:
        return self.close.astimezone(NEW_YORK) + AFTER_HOURS


@dataclass(frozen=True)
class Clock:
    timestamp: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime


def last_date() -> date:
    return date(date.today().year + YEARS_AHEAD, 12, 31)


@cache
def _table() -> tuple[list[Session], list[date], list[datetime]]:
    with warnings.catch_warnings():  # exchange_calendars' own use of a pandas API pandas 3 deprecates
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        schedule = exchange_calendars.get_calendar("XNYS", start=FIRST_DATE.isoformat(),
                                                   end=last_date().isoformat()).schedule
    rows = [Session(day.date(), opened.to_pydatetime(), closed.to_pydatetime())
            for day, opened, closed in zip(schedule.index, schedule["open"], schedule["close"])]
    return rows, [s.date for s in rows], [s.close for s in rows]


def sessions(start: date | None = None, end: date | None = None) -> list[Session]:
    """Sessions from start to end inclusive (both optional), within 2000 to YEARS_AHEAD years ahead."""
    for day in (start, end):
        if day is not None and not FIRST_DATE <= day <= last_date():
            raise InvalidInput("calendar_out_of_range",
                               f"the calendar covers {FIRST_DATE.isoformat()} to {last_date().isoformat()}")
    rows, dates, _ = _table()
    lo = bisect_left(dates, start) if start else 0
    hi = bisect_right(dates, end) if end else len(rows)
    return rows[lo:hi]


def session_before(day: date) -> Session:
    """The last session on a date before `day`."""
    rows, dates, _ = _table()
    return rows[bisect_left(dates, day) - 1]


def market_clock(now: datetime) -> Clock:
    """Regular-hours clock: open between a session's open and close."""
    rows, _, closes = _table()
    i = bisect_right(closes, now)  # the first session not yet closed
    current = rows[i]
    if current.open <= now:
        return Clock(timestamp=now, is_open=True, next_open=rows[i + 1].open, next_close=current.close)
    return Clock(timestamp=now, is_open=False, next_open=current.open, next_close=current.close)
