"""The session clock on the real NYSE calendar (fixed datetimes across Thanksgiving 2024 and the
early close the day after), and the always-open demo clock."""
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from marketdata import clock

NY = ZoneInfo("America/New_York")


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY)


@pytest.fixture
def exchange(settings):
    settings.TRADEX_MARKET_CLOCK = "exchange"


@pytest.fixture
def always_open(settings):
    settings.TRADEX_MARKET_CLOCK = "always_open"


@pytest.mark.parametrize(("at", "phase"), [
    (ny(2024, 11, 27, 3, 59), "closed"),
    (ny(2024, 11, 27, 4, 0), "pre"),
    (ny(2024, 11, 27, 9, 29), "pre"),
    (ny(2024, 11, 27, 9, 30), "regular"),
    (ny(2024, 11, 27, 15, 59), "regular"),
    (ny(2024, 11, 27, 16, 0), "post"),
    (ny(2024, 11, 27, 19, 59), "post"),
    (ny(2024, 11, 27, 20, 0), "closed"),
    (ny(2024, 11, 28, 12, 0), "closed"),  # Thanksgiving
    (ny(2024, 11, 29, 12, 59), "regular"),  # early close at 13:00
    (ny(2024, 11, 29, 13, 0), "post"),
    (ny(2024, 11, 29, 16, 59), "post"),  # after-hours end four hours after the early close
    (ny(2024, 11, 29, 17, 0), "closed"),
    (ny(2024, 11, 30, 12, 0), "closed"),  # Saturday
])
def test_phase_on_the_real_calendar(exchange, at, phase):
    assert clock.phase(at) == phase
    assert clock.is_open(at) == (phase == "regular")


@pytest.mark.parametrize(("at", "next_open", "next_close"), [
    (ny(2024, 11, 27, 10, 0), ny(2024, 11, 29, 9, 30), ny(2024, 11, 27, 16, 0)),
    (ny(2024, 11, 27, 17, 0), ny(2024, 11, 29, 9, 30), ny(2024, 11, 29, 13, 0)),  # over the holiday
    (ny(2024, 11, 29, 14, 0), ny(2024, 12, 2, 9, 30), ny(2024, 12, 2, 16, 0)),
])
def test_next_open_and_close_skip_holidays_and_know_early_closes(exchange, at, next_open, next_close):
    assert clock.next_open(at) == next_open
    assert clock.next_close(at) == next_close


@pytest.mark.parametrize(("placed", "extended", "expires"), [
    (ny(2024, 11, 27, 11, 0), False, ny(2024, 11, 27, 16, 0)),
    (ny(2024, 11, 27, 17, 0), False, ny(2024, 11, 29, 13, 0)),  # after the close: the next session's (early) close
    (ny(2024, 11, 27, 17, 0), True, ny(2024, 11, 27, 20, 0)),
    (ny(2024, 11, 29, 8, 0), True, ny(2024, 11, 29, 17, 0)),
])
def test_day_order_expiry(exchange, placed, extended, expires):
    assert clock.day_expiry(placed, extended_hours=extended) == expires


@pytest.mark.parametrize(("placed", "release", "expire"), [
    (ny(2024, 11, 27, 8, 0), ny(2024, 11, 27, 9, 30), ny(2024, 11, 27, 9, 32)),
    (ny(2024, 11, 27, 9, 45), ny(2024, 11, 29, 9, 30), ny(2024, 11, 29, 9, 32)),  # after the open: the next one
])
def test_opg_window(exchange, placed, release, expire):
    assert clock.opg_window(placed) == (release, expire)


@pytest.mark.parametrize(("placed", "release", "expire"), [
    (ny(2024, 11, 27, 10, 0), ny(2024, 11, 27, 15, 58), ny(2024, 11, 27, 16, 0)),
    (ny(2024, 11, 29, 10, 0), ny(2024, 11, 29, 12, 58), ny(2024, 11, 29, 13, 0)),  # early close
])
def test_cls_window(exchange, placed, release, expire):
    assert clock.cls_window(placed) == (release, expire)


@pytest.mark.parametrize(("at", "extended", "can"), [
    (ny(2024, 11, 27, 10, 0), False, True),
    (ny(2024, 11, 27, 8, 0), False, False),
    (ny(2024, 11, 27, 8, 0), True, True),
    (ny(2024, 11, 27, 21, 0), True, False),
    (ny(2024, 11, 28, 10, 0), True, False),
])
def test_can_route(exchange, at, extended, can):
    assert clock.can_route(at, extended_hours=extended) is can


def test_queued_orders_go_out_at_the_next_open(exchange):
    assert clock.release_at(ny(2024, 11, 28, 10, 0), extended_hours=False) == ny(2024, 11, 29, 9, 30)
    assert clock.release_at(ny(2024, 11, 28, 10, 0), extended_hours=True) == ny(2024, 11, 29, 4, 0)


def test_always_open_clock_is_open_with_a_rolling_close(always_open):
    at = ny(2024, 11, 28, 10, 0)  # Thanksgiving: the demo market is open anyway
    assert clock.phase(at) == "regular" and clock.is_open(at)
    c = clock.market_clock(at)
    assert c.is_open and c.next_close == ny(2024, 11, 29, 0, 0) == c.next_open
    assert clock.can_route(at, extended_hours=False)
    assert clock.opg_window(at)[0] == at and clock.cls_window(at)[0] == at
    assert clock.day_expiry(at, extended_hours=False) == ny(2024, 11, 29, 0, 0)


@pytest.mark.django_db
def test_clock_api_says_open_in_always_open_but_calendar_stays_real(always_open, client):
    from tests.factories import make_account_with_key

    _, key_id, secret = make_account_with_key()
    headers = {"HTTP_APCA_API_KEY_ID": key_id, "HTTP_APCA_API_SECRET_KEY": secret}
    body = client.get("/v2/clock", **headers).json()
    assert body["is_open"] is True
    assert datetime.fromisoformat(body["next_close"]) - datetime.fromisoformat(body["timestamp"]) <= timedelta(days=1)
    days = client.get("/v2/calendar?start=2024-11-27&end=2024-11-29", **headers).json()
    assert [d["date"] for d in days] == ["2024-11-27", "2024-11-29"]
    assert days[1]["close"] == "13:00"


@pytest.mark.django_db
def test_clock_api_on_the_exchange_clock(exchange, client, monkeypatch):
    from tests.factories import make_account_with_key

    monkeypatch.setattr(clock, "now", lambda: ny(2024, 11, 28, 12, 0))
    _, key_id, secret = make_account_with_key()
    body = client.get("/v2/clock", HTTP_APCA_API_KEY_ID=key_id, HTTP_APCA_API_SECRET_KEY=secret).json()
    assert body["is_open"] is False
    assert body["next_open"] == "2024-11-29T09:30:00-05:00" and body["next_close"] == "2024-11-29T13:00:00-05:00"


def test_unknown_clock_setting_is_refused(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from tradex.settings.trading import _choice

    monkeypatch.setenv("TRADEX_MARKET_CLOCK", "sometimes")
    with pytest.raises(ImproperlyConfigured):
        _choice("TRADEX_MARKET_CLOCK", "exchange", ("exchange", "always_open"))


@pytest.mark.django_db
def test_calendar_reaches_years_ahead_and_refuses_beyond(client):
    """Bug pinned (issue 13, item 10): the calendar was built without an end date, so
    exchange_calendars stopped it a year from today and later dates were silently missing."""
    from marketdata.calendar import YEARS_AHEAD, last_date
    from tests.factories import make_account_with_key

    _, key_id, secret = make_account_with_key()
    headers = {"HTTP_APCA_API_KEY_ID": key_id, "HTTP_APCA_API_SECRET_KEY": secret}
    year = date.today().year + YEARS_AHEAD
    days = client.get(f"/v2/calendar?start={year}-12-20&end={year}-12-31", **headers).json()
    dates = {d["date"] for d in days}
    assert len(dates) >= 6 and f"{year}-12-25" not in dates  # two trading weeks less Christmas
    response = client.get(f"/v2/calendar?start={last_date() + timedelta(days=1)}", **headers)
    assert response.status_code == 422 and response.json()["reason"] == "calendar_out_of_range"
