"""The session clock: is the market open, which phase is it in, when do orders held for a session
boundary go out or expire. One setting, `TRADEX_MARKET_CLOCK`:

- `exchange` (default, production, and the tests of session logic): the real NYSE sessions from
  exchange_calendars (marketdata/calendar.py), holidays and early closes included, with Alpaca's
  extended hours: pre-market 04:00 to the open, after-hours from the close to four hours after it
  (20:00, or 17:00 on an early-close day).
- `always_open` (the demo of `make run`): the simulated market never closes. Each New York
  calendar day is one session that is `regular` from midnight to midnight; /v2/clock reports
  is_open true with next_close at the coming New York midnight (rolling: always within a day)
  and next_open equal to it (the next session opens as this one closes). Day orders expire at
  that midnight; opg/cls orders and orders queued for the open go out at once.

`/v2/calendar` always returns the real sessions, whatever the mode. Everything here is a pure
function of a UTC datetime: callers pass the time (`now()` is the one place that reads the wall
clock, so tests pin it).
"""
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

from .calendar import NEW_YORK, Clock, sessions

EXCHANGE = "exchange"
ALWAYS_OPEN = "always_open"

PRE, REGULAR, POST, CLOSED = "pre", "regular", "post", "closed"

# opg orders go to the venue at the open as IOC (the simulated venues have no opening auction, so
# an order that does not execute at the open is canceled, as Alpaca cancels an unfilled opg).
# An opg order still held this long after the open (the runner was down) missed the open and expires.
OPG_WINDOW = timedelta(minutes=2)
# cls orders go to the venue this long before the close as day orders (the venue expires what is
# left at the close); one still held at the close expires.
CLS_LEAD = timedelta(minutes=2)
FOREVER = datetime.max.replace(tzinfo=UTC)
# How far around a date the calendar is searched for the next session (the longest NYSE closure
# since 2000 was four trading days).
_SEARCH = timedelta(days=14)


@dataclass(frozen=True)
class Window:
    """One trading day: extended hours [pre_open, open) and [close, post_close), regular [open, close)."""

    pre_open: datetime
    open: datetime
    close: datetime
    post_close: datetime


def now() -> datetime:
    """The wall clock (UTC). The one call tests monkeypatch to pin placement's notion of now."""
    return timezone.now()


def mode() -> str:
    return settings.TRADEX_MARKET_CLOCK


def _ny_midnight(t: datetime, days: int = 0) -> datetime:
    local = t.astimezone(NEW_YORK)
    return datetime.combine(local.date() + timedelta(days=days), time(0), NEW_YORK)


def _windows_from(t: datetime) -> list[Window]:
    day = t.astimezone(NEW_YORK).date()
    return [Window(s.session_open, s.open, s.close, s.session_close)
            for s in sessions(day - timedelta(days=1), day + _SEARCH)]


def _first(t: datetime, key) -> Window:
    """The first window whose `key` boundary is after t."""
    if mode() == ALWAYS_OPEN:
        start = _ny_midnight(t)
        end = _ny_midnight(t, 1)
        return Window(start, start, end, end)
    for w in _windows_from(t):
        if key(w) > t:
            return w
    raise LookupError(f"no NYSE session after {t.isoformat()} in the calendar")


def window_at(t: datetime) -> Window | None:
    """The trading day whose extended hours contain t, or None when the market is closed."""
    w = _first(t, lambda w: w.post_close)
    return w if w.pre_open <= t else None


def phase(t: datetime) -> str:
    w = window_at(t)
    if w is None:
        return CLOSED
    if t < w.open:
        return PRE
    if t < w.close:
        return REGULAR
    return POST


def is_open(t: datetime) -> bool:
    """Regular hours (what Alpaca's clock calls open)."""
    return phase(t) == REGULAR


def next_close(t: datetime) -> datetime:
    return _first(t, lambda w: w.close).close


def next_open(t: datetime) -> datetime:
    if mode() == ALWAYS_OPEN:
        return _ny_midnight(t, 1)
    return _first(t, lambda w: w.open).open


def market_clock(t: datetime) -> Clock:
    """What /v2/clock answers."""
    return Clock(timestamp=t, is_open=is_open(t), next_open=next_open(t), next_close=next_close(t))


def can_route(t: datetime, *, extended_hours: bool) -> bool:
    """May an order that is not opg/cls go to a venue at t? Regular hours: yes. Pre/post: only
    extended-hours orders (Alpaca: limit day orders with extended_hours). Otherwise it is queued
    at the broker for the next session (release_at)."""
    p = phase(t)
    return p == REGULAR or (extended_hours and p in (PRE, POST))


def release_at(submitted_at: datetime, *, extended_hours: bool) -> datetime:
    """When an order queued while it could not be routed goes out: the next open (extended-hours
    orders: the next pre-market open), or at once in always_open."""
    if mode() == ALWAYS_OPEN:
        return submitted_at
    if extended_hours:
        w = _first(submitted_at, lambda w: w.post_close)
        return max(w.pre_open, submitted_at)
    w = _first(submitted_at, lambda w: w.close)
    return max(w.open, submitted_at)


def opg_window(submitted_at: datetime) -> tuple[datetime, datetime]:
    """(release, expire) of an opg order: the next open after it was placed, within OPG_WINDOW."""
    if mode() == ALWAYS_OPEN:
        return submitted_at, FOREVER
    w = _first(submitted_at, lambda w: w.open)
    return w.open, w.open + OPG_WINDOW


def cls_window(submitted_at: datetime) -> tuple[datetime, datetime]:
    """(release, expire) of a cls order: CLS_LEAD before the next close, until that close."""
    if mode() == ALWAYS_OPEN:
        return submitted_at, FOREVER
    w = _first(submitted_at, lambda w: w.close)
    return max(w.close - CLS_LEAD, submitted_at), w.close


def day_expiry(submitted_at: datetime, *, extended_hours: bool) -> datetime:
    """When a day order ends: the close of the first session that closes after it was placed (an
    order placed after the close is for the next session), or the end of after-hours for an
    extended-hours order."""
    if extended_hours:
        return _first(submitted_at, lambda w: w.post_close).post_close
    return _first(submitted_at, lambda w: w.close).close


def last_boundary(t: datetime, *, extended_hours: bool) -> datetime:
    """The latest day-order expiry boundary at or before t (close, or post-close for extended
    hours): every day order placed before it has expired."""
    if mode() == ALWAYS_OPEN:
        return _ny_midnight(t)
    day = t.astimezone(NEW_YORK).date()
    bound = None
    for s in sessions(day - _SEARCH, day):
        edge = s.session_close if extended_hours else s.close
        if edge <= t:
            bound = edge
    if bound is None:
        raise LookupError(f"no NYSE session before {t.isoformat()} in the calendar")
    return bound
