"""The outbox over real QuickFIX sessions when things go wrong: a row whose message cannot be built,
orders accepted while the bridge was away, and a bridge that stopped with a message at the venue
whose answer it never got (invariants 9 and 10)."""
import threading
from decimal import Decimal

import pytest

from accounts.models import Account
from compliance.models import AuditEvent
from exchange_sim.events import Trade
from orders.models import Execution, Order, OutboxMessage, Venue
from orders.venue_selection import venue_cache_clear
from orders.services import order_cancel, order_place
from tests.factories import make_account

from .conftest import free_port

pytestmark = pytest.mark.django_db(transaction=True)
TIMEOUT = 20


def _status(order_id) -> str:
    return Order.objects.values_list("status", flat=True).get(pk=order_id)


def _actions(order_id) -> list[str]:
    return list(AuditEvent.objects.filter(entity_id=str(order_id)).order_by("seq").values_list("action", flat=True))


def _left_up(name: str, port: int) -> None:
    """The venue's row as a bridge that was killed leaves it: session up, so orders are accepted
    and routed to it, and nothing is connected."""
    Venue.objects.exclude(name=name).delete()
    Venue.objects.update_or_create(name=name, defaults={"host": "127.0.0.1", "port": port, "session": "up"})
    venue_cache_clear()


def _buy(account, **order):
    fields = {"symbol": "AAPL", "order_type": "market", "qty": "10", "time_in_force": "day", **order}
    return order_place(account_id=account.pk, actor="test", side="buy", **fields)


def test_an_unbuildable_row_is_parked_and_the_rows_around_it_reach_the_venue(
        fix_assets, venue_factory, bridge_factory):
    """Bug: one order whose FIX message could not be built (a notional order: qty None) rolled the
    drain back and retried the batch forever; every later order stayed pending_new, cancels hung."""
    venue = venue_factory("SIMA")
    _left_up("SIMA", venue.config.port)
    account = make_account(cash=Decimal("100000"))
    first = _buy(account, order_type="limit", limit_price="90.00", time_in_force="gtc")
    bad = _buy(account, order_type="limit", limit_price="91.00", time_in_force="gtc")
    last = _buy(account, order_type="limit", limit_price="92.00", time_in_force="gtc")
    order_cancel(account_id=account.pk, order_id=first.pk, actor="test")  # a CANCEL row after the bad one
    Order.objects.filter(pk=bad.pk).update(qty=None, notional=Decimal("910"))  # what the drain could not build
    reserved_by_last = Order.objects.get(pk=last.pk).reserved_cash

    bridge = bridge_factory([("SIMA", "127.0.0.1", venue.config.port)])

    assert bridge.app.wait_for(lambda: (_status(first.pk), _status(bad.pk), _status(last.pk))
                               == ("canceled", "rejected", "new"), TIMEOUT), \
        (_status(first.pk), _status(bad.pk), _status(last.pk))
    assert [o.cl_ord_id for o in venue.venue.open_orders("TRADEX")] == [last.pk.hex]
    bad = Order.objects.get(pk=bad.pk)
    assert bad.reject_reason.startswith("order_unsendable: TypeError")
    row = OutboxMessage.objects.get(order=bad)
    assert row.parked_at is not None and row.sent_at is None and row.park_reason.startswith("TypeError")
    assert _actions(bad.pk)[-2:] == ["outbox.parked", "order.rejected"]
    assert Account.objects.get(pk=account.pk).reserved_cash == reserved_by_last  # the bad one's released


def test_a_value_the_fix_dictionary_refuses_is_parked_not_sent(fix_assets, venue_factory, bridge_factory):
    """A message the venue would refuse at the session level (35=3) gets no answer for its order:
    it is checked against the dictionary before it goes, and parked with the reason."""
    venue = venue_factory("SIMA")
    bridge = bridge_factory([("SIMA", "127.0.0.1", venue.config.port)])
    assert bridge.app.wait_for(lambda: bridge.app.is_logged_on("SIMA"), TIMEOUT)
    venue_cache_clear()
    account = make_account(cash=Decimal("100000"))
    with bridge.app.lock:  # no drain pass can claim the row before its payload is spoiled
        order = _buy(account)
        OutboxMessage.objects.filter(order=order).update(payload={"qty": "ten"})
    good = _buy(account)

    assert bridge.app.wait_for(lambda: (_status(order.pk), _status(good.pk)) == ("rejected", "filled"), TIMEOUT)
    assert "IncorrectDataFormat" in Order.objects.get(pk=order.pk).reject_reason
    assert venue.app.session_rejects == []


def test_orders_accepted_while_the_bridge_was_away_wait_for_the_logon_and_fill(
        fix_assets, venue_factory, bridge_factory):
    """Bug: the restarted bridge drained before its logon and rejected every order accepted during
    the outage `venue_unavailable: the venue's session is down`."""
    port = free_port()
    _left_up("SIMA", port)
    account = make_account(cash=Decimal("100000"))
    orders = [_buy(account, symbol=symbol) for symbol in ("AAPL", "MSFT", "AAPL")]

    bridge = bridge_factory([("SIMA", "127.0.0.1", port)])  # the venue is not listening yet
    assert bridge.app.wait_for(lambda: bridge.drain_passes >= 2, TIMEOUT)  # drained with the session down
    assert {_status(o.pk) for o in orders} == {"pending_new"}
    assert not OutboxMessage.objects.filter(order__in=orders, sent_at__isnull=False).exists()

    venue_factory("SIMA", port=port)
    assert bridge.app.wait_for(lambda: {_status(o.pk) for o in orders} == {"filled"}, TIMEOUT), \
        [_status(o.pk) for o in orders]
    assert not AuditEvent.objects.filter(entity_id__in=[str(o.pk) for o in orders], action="order.rejected").exists()
    assert Execution.objects.filter(order__in=orders).count() == len(orders)


@pytest.mark.parametrize("mark", ["committed", "lost"])
def test_an_order_at_the_venue_when_the_bridge_stopped_ends_filled_once_never_rejected(
        fix_assets, venue_factory, bridge_factory, mark):
    """Bug: an order that reached the venue just before the bridge died (its `sent_at` not yet
    committed) was rejected `venue_unavailable` by the restarted bridge, then filled at the venue:
    the client was told `rejected` and came out a share short. With the mark committed, the logon's
    status request finds it; with the mark lost (the old order of operations), the NEW goes again
    with its ClOrdID and the venue refuses the duplicate. Either way: filled once."""
    venue = venue_factory("SIMA")
    traded = threading.Event()
    venue.venue.add_listener(lambda event: isinstance(event, Trade) and traded.set())
    route = [("SIMA", "127.0.0.1", venue.config.port)]
    first = bridge_factory(route)
    assert first.app.wait_for(lambda: first.app.is_logged_on("SIMA"), TIMEOUT)
    venue_cache_clear()
    account = make_account(cash=Decimal("100000"))

    # The venue's outgoing queue is held (its sender cannot take the next message): the order's
    # reports wait at the venue, as if still on the wire, while the bridge goes away.
    with venue.app.sender._cond:
        order = _buy(account)
        assert traded.wait(TIMEOUT)  # the NEW reached the venue and matched
        first.stop()
    assert _status(order.pk) == "pending_new"  # the bridge never heard back
    if mark == "lost":
        OutboxMessage.objects.filter(order=order).update(sent_at=None)

    second = bridge_factory(route)
    assert second.app.wait_for(lambda: _status(order.pk) == "filled", TIMEOUT), _status(order.pk)
    assert "order.rejected" not in _actions(order.pk)
    assert Execution.objects.filter(order=order).count() == 1
    assert [o.cl_ord_id for o in venue.venue.orders_of("TRADEX")] == [order.pk.hex]
    assert Order.objects.get(pk=order.pk).filled_qty == 10


def _marked_sent(order, *, attempts: int = 1) -> None:
    """The row as a bridge leaves it that died after committing `sent_at` and before QuickFIX
    took the message: marked sent, never sent."""
    from django.utils import timezone

    OutboxMessage.objects.filter(order=order, sent_at__isnull=True).update(sent_at=timezone.now(), attempts=attempts)


def test_a_new_marked_sent_that_never_left_is_sent_again_after_the_logon_and_fills(
        fix_assets, venue_factory, bridge_factory):
    """Marked sent, then the bridge died before sending: on logon the venue says it does not know
    the order, and the NEW goes again with its ClOrdID (never a rejection for our own loss)."""
    venue = venue_factory("SIMA")
    _left_up("SIMA", venue.config.port)
    account = make_account(cash=Decimal("100000"))
    order = _buy(account)
    _marked_sent(order)

    bridge = bridge_factory([("SIMA", "127.0.0.1", venue.config.port)])

    assert bridge.app.wait_for(lambda: _status(order.pk) == "filled", TIMEOUT), _status(order.pk)
    actions = _actions(order.pk)
    assert "order.resent" in actions and "order.rejected" not in actions
    assert OutboxMessage.objects.get(order=order).attempts == 2
    assert Execution.objects.filter(order=order).count() == 1


def test_a_venue_that_still_does_not_know_an_order_after_three_sends_has_the_last_word(
        fix_assets, venue_factory, bridge_factory):
    """Resending is bounded: an order the venue does not know after MAX_SEND_ATTEMPTS sends is
    rejected with that reason, its row parked, its reservation released."""
    venue = venue_factory("SIMA")
    _left_up("SIMA", venue.config.port)
    account = make_account(cash=Decimal("100000"))
    order = _buy(account)
    _marked_sent(order, attempts=3)

    bridge = bridge_factory([("SIMA", "127.0.0.1", venue.config.port)])

    assert bridge.app.wait_for(lambda: _status(order.pk) == "rejected", TIMEOUT), _status(order.pk)
    assert Order.objects.get(pk=order.pk).reject_reason == "venue_unknown_order: SIMA does not know it after 3 sends"
    assert OutboxMessage.objects.get(order=order).park_reason.startswith("venue_unknown_order")
    assert Account.objects.get(pk=account.pk).reserved_cash == 0
    assert venue.venue.orders_of("TRADEX") == []


def test_a_cancel_marked_sent_that_never_left_is_sent_again_and_the_order_ends_canceled(
        fix_assets, venue_factory, bridge_factory):
    """Bug: an order whose cancel was lost hung in pending_cancel (the venue said it still works
    the order, and the bridge called that in sync)."""
    venue = venue_factory("SIMA")
    route = [("SIMA", "127.0.0.1", venue.config.port)]
    first = bridge_factory(route)
    assert first.app.wait_for(lambda: first.app.is_logged_on("SIMA"), TIMEOUT)
    venue_cache_clear()
    account = make_account(cash=Decimal("100000"))
    order = _buy(account, order_type="limit", limit_price="90.00", time_in_force="gtc")
    assert first.app.wait_for(lambda: _status(order.pk) == "new", TIMEOUT)
    first.stop()
    order_cancel(account_id=account.pk, order_id=order.pk, actor="test")
    _marked_sent(order)

    second = bridge_factory(route)

    assert second.app.wait_for(lambda: _status(order.pk) == "canceled", TIMEOUT), _status(order.pk)
    assert "order.resent" in _actions(order.pk)
    assert venue.venue.open_orders("TRADEX") == []


def test_an_order_whose_new_never_left_and_that_the_client_canceled_ends_canceled(
        fix_assets, venue_factory, bridge_factory):
    """Its NEW marked sent but lost, a cancel asked for while the bridge was away: the venue does
    not know the order, so it ends canceled (not sent, not rejected, not back to working)."""
    venue = venue_factory("SIMA")
    _left_up("SIMA", venue.config.port)
    account = make_account(cash=Decimal("100000"))
    order = _buy(account, order_type="limit", limit_price="90.00", time_in_force="gtc")
    _marked_sent(order)
    order_cancel(account_id=account.pk, order_id=order.pk, actor="test")

    bridge = bridge_factory([("SIMA", "127.0.0.1", venue.config.port)])

    assert bridge.app.wait_for(lambda: _status(order.pk) == "canceled", TIMEOUT), _status(order.pk)
    assert bridge.app.wait_for(lambda: not OutboxMessage.objects.filter(order=order, sent_at__isnull=True).exists(),
                               TIMEOUT)  # the cancel went out too, and its refusal changed nothing
    assert bridge.app.wait_for(lambda: bridge.app.applied.get("cancel_rejected", 0) == 1, TIMEOUT)
    assert _status(order.pk) == "canceled" and venue.venue.orders_of("TRADEX") == []
    assert Account.objects.get(pk=account.pk).reserved_cash == 0


def test_a_stored_new_for_an_order_that_ended_meanwhile_is_not_resent_by_the_session(
        fix_assets, venue_factory, bridge_factory):
    """QuickFIX resends what it stored when the venue asks: a NewOrderSingle stored while the
    session was down, for an order that ended before the logon, became a venue order and a late
    fill. It is gap-filled instead."""
    import quickfix as fix

    from orders.fixbridge import messages
    from orders.services import order_venue_expired

    port = free_port()
    _left_up("SIMA", port)
    account = make_account(cash=Decimal("100000"))
    ended = _buy(account)
    _marked_sent(ended)
    bridge = bridge_factory([("SIMA", "127.0.0.1", port)])  # the venue is not listening yet
    assert fix.Session.sendToTarget(messages.new_order_single(ended, {}), bridge.app.sessions["SIMA"])  # stored
    order_venue_expired(order_id=ended.pk, actor="test")  # it ends at the broker while the session is down

    venue = venue_factory("SIMA", port=port)
    assert bridge.app.wait_for(lambda: "SIMA" in bridge.app.ready_venues(), TIMEOUT)
    venue_cache_clear()
    later = _buy(account)  # sequenced after the resend: once it fills, the venue has seen the gap fill
    assert bridge.app.wait_for(lambda: _status(later.pk) == "filled", TIMEOUT), _status(later.pk)

    assert [o.cl_ord_id for o in venue.venue.orders_of("TRADEX")] == [later.pk.hex]
    assert _status(ended.pk) == "expired" and not Execution.objects.filter(order=ended).exists()
