"""opg/cls release, orders queued while the market is closed, and day expiry, on the real NYSE
calendar (exchange clock) at fixed datetimes across Thanksgiving 2024 and the next day's 13:00
early close."""
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from marketdata import clock
from orders.services import order_place, order_venue_acknowledged, order_venue_expired
from tests.orders.test_triggers import assert_reservations_match, fresh

pytestmark = pytest.mark.django_db(transaction=True)
NY = ZoneInfo("America/New_York")


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY)


@pytest.fixture
def at(settings, monkeypatch):
    """Pin the placement clock: at(t) makes orders placed from now on be placed at t."""
    settings.TRADEX_MARKET_CLOCK = "exchange"

    def pin(t):
        monkeypatch.setattr(clock, "now", lambda: t)

    return pin


def place(account, **kw):
    order = dict(symbol="AAPL", side="buy", order_type="limit", limit_price="100", time_in_force="day", qty="5")
    order.update(kw)
    return order_place(account_id=account.pk, actor="test", **order)


@pytest.mark.parametrize(("tif", "placed", "early", "due", "payload"), [
    ("opg", ny(2024, 11, 27, 17, 0), ny(2024, 11, 29, 9, 29), ny(2024, 11, 29, 9, 30), {"tif": "ioc"}),
    ("cls", ny(2024, 11, 29, 10, 0), ny(2024, 11, 29, 12, 57), ny(2024, 11, 29, 12, 58), {"tif": "day"}),
])
def test_opg_and_cls_go_out_on_the_calendar(account, aapl, runners, at, tif, placed, early, due, payload):
    at(placed)
    order = place(account, time_in_force=tif)
    assert order.status == "accepted" and not order.outbox.exists()
    runner = runners()
    assert runner.on_clock(early) == []
    assert runner.on_clock(due) == [(str(order.pk), "routed")]
    order = fresh(order)
    assert order.status == "pending_new" and order.outbox.get().payload == payload


def test_opg_that_missed_the_open_expires(account, aapl, runners, at):
    at(ny(2024, 11, 27, 17, 0))
    order = place(account, time_in_force="opg")
    runner = runners()
    assert runner.on_clock(ny(2024, 11, 29, 9, 33)) == [(str(order.pk), "expired")]
    assert fresh(order).status == "expired" and not order.outbox.exists()
    assert_reservations_match(account)


def test_market_order_on_a_holiday_is_queued_for_the_next_open(account, aapl, runners, at):
    at(ny(2024, 11, 28, 10, 0))  # Thanksgiving
    order = place(account, order_type="market", limit_price=None)
    assert order.status == "accepted" and "queued" in order.hold_reason
    runner = runners()
    assert runner.on_clock(ny(2024, 11, 29, 9, 29)) == []
    assert runner.on_clock(ny(2024, 11, 29, 9, 30)) == [(str(order.pk), "routed")]
    assert fresh(order).outbox.get().payload == {}


@pytest.mark.parametrize(("placed", "routed_now"), [
    (ny(2024, 11, 29, 13, 30), True),  # after-hours of the early-close day
    (ny(2024, 11, 29, 17, 30), False),  # after-hours ended at 17:00: queued for Monday's pre-market
])
def test_extended_hours_limit_orders(account, aapl, runners, at, placed, routed_now):
    at(placed)
    order = place(account, extended_hours=True)
    assert (order.status == "pending_new") is routed_now
    if not routed_now:
        runner = runners()
        assert runner.on_clock(ny(2024, 12, 2, 3, 59)) == []
        assert runner.on_clock(ny(2024, 12, 2, 4, 0)) == [(str(order.pk), "routed")]


def test_day_orders_expire_at_the_close(account, aapl, runners, at):
    at(ny(2024, 11, 27, 11, 0))
    working = place(account)
    order_venue_acknowledged(order_id=working.pk, venue=working.venue, venue_order_id="V1")
    held = place(account, order_type="stop", stop_price="105", limit_price=None)
    at(ny(2024, 11, 27, 17, 0))
    tomorrow = place(account)  # after the close: for the next session (Friday, closing at 13:00)
    runner = runners()
    assert runner.on_clock(ny(2024, 11, 27, 15, 59)) == []
    results = dict(runner.on_clock(ny(2024, 11, 27, 16, 0)))
    assert results == {str(working.pk): "expire_requested", str(held.pk): "expired"}
    working = fresh(working)
    assert working.status == "pending_cancel"
    assert working.outbox.filter(kind="cancel").get().payload == {"expire": True}
    order_venue_expired(order_id=working.pk)
    assert fresh(working).status == "expired" and fresh(held).status == "expired"
    assert fresh(tomorrow).status == "accepted"
    assert runner.on_clock(ny(2024, 11, 29, 9, 30)) == [(str(tomorrow.pk), "routed")]
    assert dict(runner.on_clock(ny(2024, 11, 29, 13, 0))) == {str(tomorrow.pk): "expire_requested"}
    assert_reservations_match(account)


def test_queued_fractional_orders_split_when_released_at_the_open(account, aapl, runners, at):
    """A fractional order queued while the market is closed goes through the desk at the open:
    whole shares to the outbox, a sub-share order filled by the house (docs/fractional.md)."""
    at(ny(2024, 11, 28, 10, 0))  # Thanksgiving
    mixed = place(account, order_type="market", limit_price=None, qty="1.5")
    small = place(account, order_type="market", limit_price=None, qty=None, notional="20")
    assert mixed.status == small.status == "accepted" and not small.outbox.exists()
    assert str(small.qty) == "0.200000000"  # sized at acceptance, from the $100 last price
    runner = runners()
    routed = runner.on_clock(ny(2024, 11, 29, 9, 30))
    assert sorted(routed) == sorted([(str(mixed.pk), "routed"), (str(small.pk), "routed")])
    assert fresh(mixed).outbox.get().payload == {"qty": "1"} and fresh(mixed).status == "pending_new"
    small = fresh(small)
    assert small.status == "filled" and small.filled_qty == small.qty and not small.outbox.exists()
    assert small.executions.get().venue == "HOUSE"
    assert_reservations_match(account)
