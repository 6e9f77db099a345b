"""Stops, stop-limits and trailing stops held by the broker: the trigger book (pure), the trigger
service (one transaction, exactly once) and the runner that feeds it last trades."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from compliance.selectors import audit_events_for_entity
from orders.models import Order, OutboxMessage
from orders.venue_selection import venue_cache_clear
from orders.services import execution_apply, order_cancel, order_place
from orders.services.held_orders import order_trigger
from orders.state import OPEN_STATUSES
from orders.trigger_book import BUY, SELL, STOP, TRAIL_PERCENT, TRAIL_PRICE, HeldStop, TriggerBook
from portfolio.models import Position
from tests.concurrency import run_in_threads
from tests.factories import make_venues

D = Decimal


# --- the book, pure ---------------------------------------------------------------------------

@pytest.mark.parametrize(("side", "kind", "threshold", "mark", "prices", "fires_at"), [
    (SELL, STOP, "95", None, ["96", "95.01", "95"], 2),
    (SELL, STOP, "95", None, ["96", "90"], 1),  # a gap through the stop
    (BUY, STOP, "105", None, ["104", "104.99", "105"], 2),
    (BUY, STOP, "105", None, ["110"], 0),
    # trailing sell by $2 from 100: the high goes to 103, the stop to 101
    (SELL, TRAIL_PRICE, "2", "100", ["101", "103", "101.5", "101"], 3),
    # trailing sell by 5 %: high 110, stop 104.5
    (SELL, TRAIL_PERCENT, "5", "100", ["110", "105", "104.5"], 2),
    (SELL, TRAIL_PERCENT, "5", "100", ["96", "95"], 1),  # never above the start: 100 * 0.95
    # trailing buy by $2 from 100: the low goes to 97, the stop to 99
    (BUY, TRAIL_PRICE, "2", "100", ["98", "97", "98.9", "99"], 3),
    (BUY, TRAIL_PERCENT, "10", "100", ["90", "98", "99"], 2),
])
def test_book_fires_once_when_the_threshold_is_crossed(side, kind, threshold, mark, prices, fires_at):
    book = TriggerBook()
    book.add(HeldStop("o1", "AAPL", side, kind, D(threshold), D(mark) if mark else None))
    fired_at = None
    for i, price in enumerate(prices):
        fired = book.on_price("AAPL", D(price))
        if fired:
            assert fired_at is None, "fired twice"
            assert [f.order_id for f in fired] == ["o1"]
            fired_at = i
    assert fired_at == fires_at
    assert len(book) == 0 and book.on_price("AAPL", D(prices[-1])) == []


def test_book_touches_only_crossed_orders_and_merges_water_marks():
    book = TriggerBook()
    for i in range(100):
        book.add(HeldStop(f"s{i}", "AAPL", SELL, STOP, D(50 + i), None))  # sell stops at 50..149
        book.add(HeldStop(f"b{i}", "AAPL", BUY, STOP, D(151 + i), None))  # buy stops at 151..250
    book.add(HeldStop("other", "MSFT", SELL, STOP, D("1000"), None))
    fired = book.on_price("AAPL", D("140"))
    assert sorted(f.order_id for f in fired) == sorted(f"s{i}" for i in range(90, 100))
    assert book.on_price("AAPL", D("140")) == []
    assert sorted(f.order_id for f in book.on_price("AAPL", D("155"))) == [f"b{i}" for i in range(5)]
    assert len(book) == 100 - 10 + 100 - 5 + 1
    # Two trailing sells started at different marks share one once the price makes a new high.
    book.add(HeldStop("t1", "NVDA", SELL, TRAIL_PRICE, D("5"), D("100")))
    book.add(HeldStop("t2", "NVDA", SELL, TRAIL_PERCENT, D("10"), D("90")))
    assert book.on_price("NVDA", D("120")) == []
    assert book.water_mark("t1") == book.water_mark("t2") == D("120")
    fired = book.on_price("NVDA", D("115"))
    assert [(f.order_id, f.water_mark) for f in fired] == [("t1", D("120"))]
    assert [f.order_id for f in book.on_price("NVDA", D("108"))] == ["t2"]
    assert book.remove("s0") and not book.remove("s0") and "s0" not in book


# --- the service and the runner, on PostgreSQL --------------------------------------------------

pytestmark_db = pytest.mark.django_db(transaction=True)


def place(account, **kw):
    order = dict(symbol="AAPL", side="buy", time_in_force="gtc", qty="10")
    order.update(kw)
    return order_place(account_id=account.pk, actor="test", **order)


def own_shares(account, qty="10", price="100"):
    buy = order_place(account_id=account.pk, actor="test", symbol="AAPL", side="buy", order_type="market",
                      time_in_force="day", qty=qty)
    execution_apply(venue="TEST", exec_id=f"own-{buy.pk}", order_id=buy.pk, qty=qty, price=price,
                    transacted_at=timezone.now())


def fresh(obj):
    obj.refresh_from_db()
    return obj


def assert_reservations_match(account):
    """Reservations equal what open orders hold (the invariant tests/orders/test_concurrency.py checks)."""
    account = fresh(account)
    open_cash = Order.objects.filter(account=account, status__in=OPEN_STATUSES).aggregate(s=Sum("reserved_cash"))["s"] or 0
    assert account.reserved_cash == open_cash
    for position in Position.objects.filter(account=account):
        held = Order.objects.filter(account=account, symbol=position.symbol,
                                    status__in=OPEN_STATUSES).aggregate(s=Sum("reserved_qty"))["s"] or 0
        assert position.held_qty == held
        assert position.held_qty <= max(position.qty, 0)


STOP_CASES = [
    # side, type, stop, limit, prices fed, payload sent
    ("buy", "stop", "105", None, ["104", "105"], {"ord_type": "market", "tif": "day"}),
    ("sell", "stop", "95", None, ["96", "94.5"], {"ord_type": "market", "tif": "day"}),
    ("buy", "stop_limit", "105", "106", ["104.99", "105.5"], {"ord_type": "limit", "price": "106"}),
    ("sell", "stop_limit", "95", "94", ["95.5", "95"], {"ord_type": "limit", "price": "94"}),
]


@pytestmark_db
@pytest.mark.parametrize(("side", "order_type", "stop", "limit", "prices", "payload"), STOP_CASES)
def test_stop_triggers_into_one_outbox_row_with_overrides(runners, margin_account, aapl, side, order_type, stop, limit,
                                                           prices, payload):
    if side == "sell":
        own_shares(margin_account)
    order = place(margin_account, side=side, order_type=order_type, stop_price=stop, limit_price=limit)
    assert order.status == "accepted" and order.venue == "" and not order.outbox.exists()
    runner = runners()
    at = timezone.now()
    results = runner.on_prices([("AAPL", D(prices[0]), at)])
    assert results == [] and fresh(order).status == "accepted"
    results = runner.on_prices([("AAPL", D(prices[1]), at + timedelta(seconds=1))])
    assert results == [(str(order.pk), "routed")]
    order = fresh(order)
    assert order.status == "pending_new" and order.venue and order.trigger_price == D(prices[1])
    assert [(m.kind, m.payload) for m in order.outbox.all()] == [("new", payload)]
    triggered = [e for e in audit_events_for_entity(entity_type="order", entity_id=order.pk)
                 if e.action == "order.triggered"]
    assert len(triggered) == 1 and D(triggered[0].data["trigger_price"]) == D(prices[1])
    assert runner.on_prices([("AAPL", D(prices[1]), at + timedelta(seconds=2))]) == []  # once only
    assert_reservations_match(margin_account)


@pytestmark_db
@pytest.mark.parametrize(("trail", "prices", "hwm", "stop_at"), [
    ({"trail_price": "2"}, ["101", "103", "101.5", "101"], "103", "101"),
    ({"trail_percent": "5"}, ["110", "105", "104.5"], "110", "104.5"),
])
def test_trailing_stop_follows_the_high_water_mark(runners, account, aapl, trail, prices, hwm, stop_at):
    own_shares(account)
    order = place(account, side="sell", order_type="trailing_stop", **trail)
    assert order.hwm == D("100")  # the last trade when placed
    runner = runners()
    at = timezone.now()
    outcomes = [runner.on_prices([("AAPL", D(p), at)]) for p in prices]
    assert outcomes[:-1] == [[]] * (len(prices) - 1)
    assert outcomes[-1] == [(str(order.pk), "routed")]
    order = fresh(order)
    assert order.hwm == D(hwm) and order.stop_price == D(stop_at) and order.trigger_price == D(prices[-1])
    assert order.outbox.get().payload == {"ord_type": "market", "tif": "day"}


@pytestmark_db
def test_runner_picks_up_new_and_canceled_held_orders_through_notify(runners, account, aapl):
    runner = runners()
    assert runner.load() == 0
    keep = place(account, order_type="stop", stop_price="105", qty="1")
    gone = place(account, order_type="stop", stop_price="104", qty="1")
    assert runner.refresh() == 2 and len(runner.book) == 2
    order_cancel(account_id=account.pk, order_id=gone.pk, actor="test")
    assert fresh(gone).status == "canceled"
    assert runner.refresh() == 1 and len(runner.book) == 1
    assert runner.refresh() == 0  # nothing changed: no query
    assert runner.on_prices([("AAPL", D("106"), timezone.now())]) == [(str(keep.pk), "routed")]
    assert not gone.outbox.exists()
    assert_reservations_match(account)


@pytestmark_db
def test_cancel_of_a_held_stop_releases_at_once(account, aapl):
    own_shares(account)
    order = place(account, side="sell", order_type="stop", stop_price="95")
    assert Position.objects.get(account=account).held_qty == 10
    order = order_cancel(account_id=account.pk, order_id=order.pk, actor="test")
    assert order.status == "canceled" and not order.outbox.exists()
    assert Position.objects.get(account=account).held_qty == 0
    assert order_trigger(order_id=order.pk, price="90", at=timezone.now()) == "not_held"
    assert not order.outbox.exists()


@pytestmark_db
def test_no_venue_keeps_a_triggered_stop_held_and_the_runner_retries(runners, account, aapl):
    """A stop loss must not be silently dropped: with every venue down it stays triggered at the
    broker with the reason, and goes out when a venue is back."""
    own_shares(account)
    order = place(account, side="sell", order_type="stop", stop_price="95")
    runner = runners()
    make_venues(session="down")
    venue_cache_clear()
    at = timezone.now()
    assert runner.on_prices([("AAPL", D("94"), at)]) == [(str(order.pk), "deferred")]
    order = fresh(order)
    assert order.status == "accepted" and order.triggered_at is not None
    assert order.hold_reason.startswith("venue_unavailable") and not order.outbox.exists()
    assert runner.on_clock(at + timedelta(seconds=1)) == []  # still down: kept, retried next tick
    assert fresh(order).status == "accepted"
    make_venues(session="up")
    venue_cache_clear()
    assert runner.on_clock(at + timedelta(seconds=2)) == [(str(order.pk), "routed")]
    order = fresh(order)
    assert order.status == "pending_new" and order.hold_reason == ""
    assert order.outbox.get().payload == {"ord_type": "market", "tif": "day"}
    actions = [e.action for e in audit_events_for_entity(entity_type="order", entity_id=order.pk)]
    assert actions == ["order.placed", "order.triggered", "order.held", "order.routed"]


@pytestmark_db
def test_two_runners_racing_send_the_stop_once(runners, account, aapl):
    order = place(account, order_type="stop", stop_price="105")
    pair = [runners(), runners()]
    at = timezone.now()
    results = run_in_threads(lambda r: r.on_prices([("AAPL", D("106"), at)]), [(r,) for r in pair], workers=2)
    assert [e for _, e in results if e is not None] == []
    outcomes = sorted(outcome for result, _ in results for _, outcome in result)
    assert outcomes == ["not_held", "routed"]
    assert OutboxMessage.objects.filter(order=order, kind="new").count() == 1


@pytestmark_db
def test_six_threads_triggering_the_same_stop_write_one_outbox_row(account, aapl):
    order = place(account, order_type="stop", stop_price="105")
    at = timezone.now()
    results = run_in_threads(lambda: order_trigger(order_id=order.pk, price="106", at=at), [()] * 6, workers=6)
    assert [e for _, e in results if e is not None] == []
    assert sorted(r for r, _ in results) == ["not_held"] * 5 + ["routed"]
    assert OutboxMessage.objects.filter(order=order).count() == 1
    assert_reservations_match(account)


@pytestmark_db
def test_a_stale_price_does_not_trigger(account, aapl):
    order = place(account, order_type="stop", stop_price="105")
    assert order_trigger(order_id=order.pk, price="104", at=timezone.now()) == "not_crossed"
    assert fresh(order).status == "accepted" and fresh(order).triggered_at is None
