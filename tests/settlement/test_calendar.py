"""Settlement dates: T+1 in settlement days, when both the NYSE and the Federal Reserve are open."""
from datetime import date

import pytest
from django.core.management import CommandError, call_command

from settlement import calendar


@pytest.mark.parametrize("trade_date, expected, why", [
    ("2025-10-08", "2025-10-09", "an ordinary Wednesday"),
    ("2025-10-10", "2025-10-14", "Friday before Columbus Day: the NYSE trades Monday, banks are closed"),
    ("2025-10-13", "2025-10-14", "trading on Columbus Day itself settles the next day"),
    ("2025-11-10", "2025-11-12", "the day before Veterans Day (banks closed, NYSE open)"),
    ("2025-11-11", "2025-11-12", "trading on Veterans Day"),
    ("2025-11-26", "2025-11-28", "the day before Thanksgiving; Black Friday is an early close that settles"),
    ("2025-11-28", "2025-12-01", "an early close on a Friday"),
    ("2025-07-03", "2025-07-07", "early close before Independence Day, Friday holiday, weekend"),
    ("2026-07-02", "2026-07-06", "4 July 2026 is a Saturday: NYSE closed Friday 3rd, the Fed open: not a settlement day"),
    ("2025-12-24", "2025-12-26", "Christmas Eve early close; the 26th is an executive-order federal closure, Fed open"),
    ("2025-12-31", "2026-01-02", "year end: New Year's Day"),
    ("2026-12-31", "2027-01-04", "year end on a Thursday, New Year's Day a Friday"),
    ("2025-01-08", "2025-01-10", "the NYSE closed 9 January 2025 (national day of mourning)"),
    ("2025-04-17", "2025-04-21", "Good Friday: exchange closed, banks open"),
    ("2025-06-18", "2025-06-20", "Juneteenth"),
    ("2025-10-11", "2025-10-14", "a Saturday trade date (no session) still counts from the next settlement day"),
])
def test_settlement_dates(trade_date, expected, why):
    assert calendar.settlement_date(date.fromisoformat(trade_date)) == date.fromisoformat(expected), why


def test_the_cycle_is_configured_per_market(settings):
    assert calendar.settlement_date(date(2025, 10, 8), "XNYS", cycle=2) == date(2025, 10, 10)
    settings.TRADEX_SETTLEMENT_CYCLES = {"XNYS": 2}
    assert calendar.settlement_date(date(2025, 10, 10)) == date(2025, 10, 15)  # T+2 over Columbus Day
    assert calendar.market("XLON").cycle == 2
    # London: the Monday 25 August 2025 bank holiday is skipped.
    assert calendar.settlement_date(date(2025, 8, 21), "XLON") == date(2025, 8, 26)


def test_command_prints_the_iso_date(capsys):
    call_command("settlement_date", "2025-10-10")
    assert capsys.readouterr().out.strip() == "2025-10-14"
    call_command("settlement_date", "2025-08-21", "--market", "XLON")
    assert capsys.readouterr().out.strip() == "2025-08-26"


@pytest.mark.parametrize("args, code", [
    (["2025-13-01"], "invalid_trade_date"),
    (["yesterday"], "invalid_trade_date"),
    (["2025-10-10", "--market", "XXXX"], "unknown_market"),
    (["1990-01-02"], "out_of_calendar"),
])
def test_command_refuses_bad_input(args, code):
    with pytest.raises(CommandError, match=code):
        call_command("settlement_date", *args)
