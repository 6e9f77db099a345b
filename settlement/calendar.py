"""Settlement days and settlement dates, per market, from maintained calendar libraries.

A settlement day is a day on which both the exchange trades (exchange_calendars) and the banks
that move the money are open (the `holidays` package). They differ: the NYSE trades on Columbus
Day and Veterans Day, when the Federal Reserve (and so DTC's money settlement) is closed; nothing
settles on those days. T+n counts n settlement days after the trade date.

Federal Reserve rule (frbservices.org holiday schedule): a holiday that falls on a Sunday is
observed the next Monday; one that falls on a Saturday is *not* moved (the Fed is open the Friday
before, unlike federal offices). `holidays.US(categories=GOVERNMENT)` gives the federal holidays'
actual dates (observed=False); this module applies that one shift rule to them. The NYSE's own
shift (closed the Friday before a Saturday holiday) comes from exchange_calendars.

No holiday list is written here: each market names its exchange calendar and its bank calendar.
"""
import warnings
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

FIRST_YEAR = 2000
YEARS_AHEAD = 3  # exchange_calendars' default end is one year ahead: settlement needs a bit more


@dataclass(frozen=True)
class Market:
    code: str  # ISO 10383 MIC of the exchange calendar (exchange_calendars)
    bank_country: str  # `holidays` country whose bank (central bank) calendar applies
    timezone: str
    cycle: int  # settlement days after the trade date (T+n)


# The defaults; settings.TRADEX_SETTLEMENT_CYCLES ({"XNYS": 1, ...}) overrides the cycle per market.
MARKETS = {
    "XNYS": Market("XNYS", "US", "America/New_York", 1),  # T+1 since 28 May 2024 (SEC Rule 15c6-1)
    "XNAS": Market("XNAS", "US", "America/New_York", 1),
    "XLON": Market("XLON", "GB", "Europe/London", 2),
    "XTKS": Market("XTKS", "JP", "Asia/Tokyo", 2),
    "XBOM": Market("XBOM", "IN", "Asia/Kolkata", 1),
}
DEFAULT_MARKET = "XNYS"

# The Federal Reserve Banks close on the statutory federal holidays (5 U.S.C. 6103), by the names
# the `holidays` package gives them; their dates come from the package.
FEDERAL_RESERVE_HOLIDAYS = frozenset({
    "New Year's Day", "Birthday of Martin Luther King, Jr.", "Washington's Birthday", "Memorial Day",
    "Juneteenth National Independence Day", "Independence Day", "Labor Day", "Columbus Day", "Veterans Day",
    "Thanksgiving Day", "Christmas Day",
})


class UnknownMarket(ValueError):
    pass


def market(code: str = DEFAULT_MARKET) -> Market:
    try:
        base = MARKETS[code]
    except KeyError:
        raise UnknownMarket(f"unknown market {code!r}; known: {', '.join(sorted(MARKETS))}") from None
    cycle = getattr(settings, "TRADEX_SETTLEMENT_CYCLES", {}).get(code, base.cycle)
    return Market(base.code, base.bank_country, base.timezone, int(cycle))


def _bank_holidays(country: str, years: range) -> set[date]:
    # Loaded on the first settlement date asked for (cached): not every process computes one.
    import holidays
    from holidays.constants import GOVERNMENT, PUBLIC  # (with the line above)

    if country == "US":
        # Federal Reserve: the statutory federal holidays, Sunday -> Monday, Saturday not moved.
        # The library's GOVERNMENT category also holds one-off closures of federal offices by
        # executive order (e.g. 24 and 26 December 2025), on which the Reserve Banks stay open.
        actual = holidays.US(years=years, categories=(GOVERNMENT,), observed=False, language="en_US")
        days = set()
        for day, name in actual.items():
            if not set(name.split("; ")) & FEDERAL_RESERVE_HOLIDAYS:
                continue
            if day.weekday() == 6:
                days.add(day + timedelta(days=1))
            elif day.weekday() < 5:
                days.add(day)
        return days
    # Other markets: the country's public holidays as the library observes them (banks follow them).
    return set(holidays.country_holidays(country, years=years, categories=(PUBLIC,)))


@cache
def _settlement_days(code: str) -> tuple[date, ...]:
    import exchange_calendars  # pandas underneath, about a second: loaded once, on first use

    m = MARKETS[code]
    today = date.today()
    end = date(today.year + YEARS_AHEAD, 12, 31)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore")
        sessions = exchange_calendars.get_calendar(code, start=f"{FIRST_YEAR}-01-01", end=end.isoformat()).schedule.index
    banks = _bank_holidays(m.bank_country, range(FIRST_YEAR, end.year + 1))
    return tuple(d for d in (s.date() for s in sessions) if d not in banks)


def is_settlement_day(day: date, code: str = DEFAULT_MARKET) -> bool:
    days = _settlement_days(market(code).code)
    i = bisect_right(days, day)
    return i > 0 and days[i - 1] == day


def settlement_date(trade_date: date, code: str = DEFAULT_MARKET, *, cycle: int | None = None) -> date:
    """The n-th settlement day after trade_date (T+n; n from the market unless given). T+0 is the
    trade date itself when it is a settlement day, else the next one."""
    m = market(code)
    n = m.cycle if cycle is None else cycle
    days = _settlement_days(m.code)
    if n == 0:
        i = bisect_right(days, trade_date - timedelta(days=1))
    else:
        i = bisect_right(days, trade_date) + n - 1
    if not days or trade_date < days[0] or i >= len(days):
        raise ValueError(f"{trade_date} is outside the {m.code} calendar ({days[0]} to {days[-1]})")
    return days[i]


def trade_date_of(moment, code: str = DEFAULT_MARKET) -> date:
    """The trade date of an execution: its time in the market's time zone."""
    return moment.astimezone(ZoneInfo(market(code).timezone)).date()


def today(code: str = DEFAULT_MARKET) -> date:
    return trade_date_of(timezone.now(), code)
