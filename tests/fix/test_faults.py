"""Venue answers and faults over real FIX sessions: rejections, a venue that goes down, a venue
restarted from its journal, resent reports, and malformed messages."""
from decimal import Decimal

import pytest
import quickfix as fix

from accounts.models import Account
from orders.fixbridge import reports
from orders.fixbridge.inbound import report_apply
from orders.models import Execution, Order, Venue
from orders.venue_selection import venue_cache_clear
from orders.services import order_place
from tests.factories import make_account
from core.errors import Refused

pytestmark = pytest.mark.django_db(transaction=True)
TIMEOUT = 15


def _order(order_id):
    return Order.objects.get(pk=order_id)


def _connected(venue_factory, bridge_factory, **venue_overrides):
    venue = venue_factory("SIMA", **venue_overrides)
    bridge = bridge_factory([("SIMA", "127.0.0.1", venue.config.port)])
    assert bridge.app.wait_for(lambda: bridge.app.is_logged_on("SIMA"), TIMEOUT)
    venue_cache_clear()
    return venue, bridge


def _buy(account, symbol="AAPL", **order):
    fields = {"order_type": "market", "qty": "10", "time_in_force": "day", **order}
    return order_place(account_id=account.pk, actor="test", symbol=symbol, side="buy", **fields)


def test_a_venue_rejection_rejects_the_order_releases_the_reservation_and_says_why(
        fix_assets, venue_factory, bridge_factory):
    _, bridge = _connected(venue_factory, bridge_factory, symbols=("MSFT",))  # the venue does not list AAPL
    account = make_account(cash=Decimal("100000"))
    order = _buy(account, order_type="limit", limit_price="100.00")

    assert bridge.app.wait_for(lambda: _order(order.pk).status == "rejected", TIMEOUT)
    assert "unknown_symbol" in _order(order.pk).reject_reason
    assert Account.objects.get(pk=account.pk).reserved_cash == 0


def test_a_venue_that_goes_down_gets_no_new_orders(fix_assets, venue_factory, bridge_factory):
    venue, bridge = _connected(venue_factory, bridge_factory)
    account = make_account(cash=Decimal("100000"))

    venue.stop()
    assert bridge.app.wait_for(lambda: not bridge.app.is_logged_on("SIMA"), TIMEOUT)
    venue_cache_clear()

    assert Venue.objects.get(name="SIMA").session == "down"
    with pytest.raises(Refused) as refused:
        _buy(account)
    assert refused.value.reason == "venue_unavailable"
    assert not Order.objects.filter(account=account).exists()


def test_a_restarted_venue_rebuilds_its_book_and_fills_the_resting_order_once(
        fix_assets, venue_factory, bridge_factory, tmp_path):
    venue, bridge = _connected(venue_factory, bridge_factory)
    port = venue.config.port
    account = make_account(cash=Decimal("100000"))
    order = _buy(account, order_type="limit", limit_price="99.50", time_in_force="gtc")
    assert bridge.app.wait_for(lambda: _order(order.pk).status == "new", TIMEOUT)

    venue.stop()  # the venue goes away with the order resting in its book
    assert bridge.app.wait_for(lambda: not bridge.app.is_logged_on("SIMA"), TIMEOUT)
    restarted = venue_factory("SIMA", port=port)  # same journal and FIX store
    assert bridge.app.wait_for(lambda: bridge.app.is_logged_on("SIMA"), TIMEOUT)
    assert restarted.venue.order_status(owner="TRADEX", cl_ord_id=order.pk.hex).status == "new"

    # The market falls through the limit (by 1 %: a 10 % move would trip the circuit breaker).
    restarted.venue.set_reference("AAPL", Decimal("99.00"))
    for event in restarted.venue.step():
        restarted.app.deliver(event)
    assert bridge.app.wait_for(lambda: _order(order.pk).status == "filled", TIMEOUT)
    executions = Execution.objects.filter(order=order)
    assert executions.count() == len({e.exec_id for e in executions})
    assert sum(e.qty for e in executions) == 10


def _fill_report(order, exec_id: str, *, poss_dup: bool) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(35, "8")
    if poss_dup:
        message.getHeader().setField(43, "Y")
    for tag, value in {11: order.pk.hex, 37: "V1", 17: exec_id, 150: "F", 39: "2", 55: order.symbol, 54: "1",
                       32: "10", 31: "101.5", 14: "10", 151: "0", 6: "101.5", 60: "20261122-15:00:00.000"}.items():
        message.setField(tag, value)
    return message


def test_a_resent_execution_report_with_possdup_changes_nothing(fix_assets):
    account = make_account(cash=Decimal("100000"))
    order = _buy(account)

    first = report_apply("SIMA", reports.parse(_fill_report(order, "SIMA-77", poss_dup=False)))
    account_after_fill = Account.objects.get(pk=account.pk)
    resent = report_apply("SIMA", reports.parse(_fill_report(order, "SIMA-77", poss_dup=True)))

    assert (first, resent) == ("filled", "duplicate")
    assert Execution.objects.filter(order=order).count() == 1
    after = Account.objects.get(pk=account.pk)
    assert (after.unsettled_cash, after.reserved_cash) == (account_after_fill.unsettled_cash,
                                                           account_after_fill.reserved_cash)


def test_a_malformed_report_is_rejected_at_the_session_level_and_applies_nothing(
        fix_assets, venue_factory, bridge_factory):
    venue, bridge = _connected(venue_factory, bridge_factory)
    account = make_account(cash=Decimal("100000"))
    order = _buy(account, order_type="limit", limit_price="90.00", time_in_force="gtc")
    assert bridge.app.wait_for(lambda: _order(order.pk).status == "new", TIMEOUT)

    bad = _fill_report(order, "SIMA-BAD", poss_dup=False)
    bad.removeField(17)  # ExecID is required in an ExecutionReport
    bad.setField(31, "not-a-price")
    fix.Session.sendToTarget(bad, venue.app.sessions["TRADEX"])

    assert venue.app.wait_for_session_reject(TIMEOUT)
    assert "35=3" in venue.app.session_rejects[0]
    assert not Execution.objects.filter(order=order).exists()
    assert _order(order.pk).status == "new"

